// Whether runfcgi is a container's main process: PID 1, or the one child of a container's init (tini, catatonit).

import fs from 'node:fs';

/**
 * The inits a container runs its command under: `docker run --init`
 * (docker-init, which is tini), `podman run --init` (catatonit, named
 * podman-init there), and the ones images install themselves (tini,
 * dumb-init). They forward signals, reap orphans, and end the container
 * when their one child exits.
 */
const CONTAINER_INITS = new Set(['tini', 'docker-init', 'catatonit', 'podman-init', 'dumb-init']);

/** Where a container's main process runs. */
export type ContainerPlace =
  /** PID 1 of its PID namespace (no --init): it must reap orphans itself, and its exit ends the container. */
  | { role: 'pid1'; text: string }
  /** The child of a container init: its exit ends the container; the init reaps orphans. */
  | { role: 'init-child'; init: string; text: string }
  /** Started from outside its PID namespace (ppid 0 in it): `kubectl`'s shared PID namespace, or `podman exec`. */
  | { role: 'namespace-child'; text: string };

function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The container place of this process, or undefined on an ordinary host
 * (where a daemon's parent is init too, but init is systemd or sysvinit,
 * and a restart script may start a successor master at any time).
 */
export function containerPlace(pid = process.pid, ppid = process.ppid): ContainerPlace | undefined {
  if (pid === 1) return { role: 'pid1', text: 'PID 1 (the main process of a container)' };
  // A parent outside our PID namespace shows as 0: the container runtime started us.
  if (ppid === 0) return { role: 'namespace-child', text: 'started from outside its PID namespace (a container)' };
  if (ppid !== 1) return undefined;
  const init = commOf(1);
  if (!CONTAINER_INITS.has(init)) return undefined;
  return { role: 'init-child', init, text: `the main process of a container (the child of ${init}, PID 1)` };
}
