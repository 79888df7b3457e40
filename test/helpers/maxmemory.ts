// maxmemory= in runfcgi's JSON log: the peak each retired worker says it reached once its requests were done.

import { expect } from 'vitest';

const RETIRING = 'maxmemory exceeded: retiring after the requests in progress';
const LEAVING = 'worker leaving: its requests are done';

function records(output: string, msg: string): Record<string, unknown>[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

/** peakMb of each worker that retired for maxmemory= and has left, in the order they left. */
export function retiredPeaks(output: string): number[] {
  const ids = new Set(records(output, RETIRING).map((l) => l.worker));
  return records(output, LEAVING).filter((l) => ids.has(l.worker)).map((l) => l.peakMb as number);
}

/**
 * Every retired worker went past `maxmemory` (or the test proves nothing of
 * how far), by no more than 10%; a worker that left for another reason (a
 * smaller pool) stayed within that too. Prints the peaks.
 */
export function expectPeaksWithin(output: string, maxmemory: number, what: string): void {
  const peaks = retiredPeaks(output);
  const most = Math.max(...peaks);
  console.log(`maxmemory=${maxmemory}, ${what}: peaks of ${peaks.length} retired workers ${peaks.join(', ')} MB (at most ${most}, ${Math.round((most / maxmemory - 1) * 100)}% over)`);
  expect(peaks.length).toBeGreaterThan(0);
  for (const peak of peaks) expect(peak).toBeGreaterThanOrEqual(maxmemory);
  for (const peak of peaks) expect(peak).toBeLessThanOrEqual(maxmemory * 1.1);
  for (const l of records(output, LEAVING)) expect(l).toMatchObject({ maxmemory });
  for (const l of records(output, LEAVING)) expect(l.peakMb as number).toBeLessThanOrEqual(maxmemory * 1.1);
}
