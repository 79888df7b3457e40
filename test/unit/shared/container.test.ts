// Where runfcgi knows it is a container's main process: from its pid and its parent's.
import { describe, expect, it } from 'vitest';
import { containerPlace } from '../../../src/shared/container.js';

describe('containerPlace', () => {
  it('PID 1 is a container\'s main process, which must reap orphans itself', () => {
    expect(containerPlace(1, 0)).toEqual({ role: 'pid1', text: 'PID 1 (the main process of a container)' });
  });

  it('a parent outside the PID namespace (ppid 0) means a container runtime started us', () => {
    expect(containerPlace(7, 0)?.role).toBe('namespace-child');
  });

  it('an ordinary parent is no container: a successor master may come', () => {
    expect(containerPlace(4242, 4000)).toBeUndefined();
  });
  // The child of a container init (ppid 1, /proc/1/comm catatonit): test/integration/pid1.test.ts, with a real one.
});
