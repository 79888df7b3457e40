// Once per test run: a directory any user can reach, shared by the test files (the packed package lives there).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A 0755 directory under os.tmpdir() for this run; removed when the run ends. */
    runDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runfcgi-run-'));
  fs.chmodSync(dir, 0o755);
  project.provide('runDir', dir);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
