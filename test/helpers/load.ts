// Small load generator and waiting helpers for integration tests (bounded in count and time).

/** Polls `condition` until true; the limit is generous by default, as the machine may be busy. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
}

/** A load's failures in one line, for an assertion's message: how many, and the first kinds of error. */
export function failures(r: LoadResult): string {
  return `${r.failed} of ${r.ok + r.failed} failed: ${[...new Set(r.errors)].slice(0, 5).join('; ')}`;
}

/**
 * A POST whose body the app must read (nginx retries a GET that meets a
 * closed upstream connection on another one, never a POST: lossless is
 * proven with these). `expect`: what the answer must contain.
 */
export interface Post {
  body: string;
  expect?: string;
}

/** One GET (or POST), counted: a 200 is ok; another status, or no answer, failed. `onAnswer` sees each ok body. */
async function getCounted(url: string, result: LoadResult, post?: Post, onAnswer?: (body: string) => void): Promise<void> {
  try {
    const init: RequestInit = post === undefined ? {} : { method: 'POST', body: post.body, headers: { 'content-type': 'text/plain' } };
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (res.status === 200 && (post?.expect === undefined || text.includes(post.expect))) {
      result.ok++;
      onAnswer?.(text);
      return;
    }
    result.errors.push(`status ${res.status}: ${text.slice(0, 100)}`);
  } catch (error) {
    result.errors.push(String(error));
  }
  result.failed++;
}

/** Sends `total` GETs to `url`, `concurrency` at a time; counts answers that are not 200 or never came. */
export async function load(url: string, total: number, concurrency: number): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: 0, errors: [] };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      next++;
      await getCounted(url, result);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return result;
}

/**
 * Keeps sending requests until stopped; for "while something happens" tests.
 * `result` counts so far: wait on it (waitFor) rather than on the clock.
 */
export function keepLoading(url: string, concurrency: number, post?: Post, onAnswer?: (body: string) => void): { result: LoadResult; stop(): Promise<LoadResult> } {
  return keepGoing(concurrency, (result) => getCounted(url, result, post, onAnswer));
}

/** Runs `request` in `concurrency` lanes, each one after the other, until stopped. */
export function keepGoing(concurrency: number, request: (result: LoadResult) => Promise<void>): { result: LoadResult; stop(): Promise<LoadResult> } {
  const result: LoadResult = { ok: 0, failed: 0, errors: [] };
  let running = true;
  const lane = async (): Promise<void> => {
    while (running) await request(result);
  };
  const lanes = Promise.all(Array.from({ length: concurrency }, lane));
  return {
    result,
    async stop() {
      running = false;
      await lanes;
      return result;
    },
  };
}

/**
 * Whether `pid` runs: a zombie does not (a master the test started has exited
 * once `runfcgi stop` says so, though Node may not have reaped it yet).
 */
export { isAlive } from '../../src/shared/procfs.js';
