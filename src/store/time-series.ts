import type { TimeSeriesBucket } from './types.ts';

/** One row of aggregate-time-series.sql, on either engine. */
export interface TimeSeriesRow {
  kind: 'received' | 'processed' | 'failed' | 'settled' | 'waiting';
  bucket: number | string;
  count: number | string;
}

/** Most buckets one call may ask for: a week of minutes. */
export const maxTimeSeriesBuckets = 10_080;

/** How many buckets of `bucketMs` cover [since, now]; throws on a window the SQL cannot serve. */
export function countTimeSeriesBuckets(since: number, now: number, bucketMs: number): number {
  if (!Number.isInteger(bucketMs) || bucketMs <= 0)
    throw new RangeError(`bucketMs must be a positive integer, got ${bucketMs}`);
  if (!(now >= since)) throw new RangeError(`the window must not end (${now}) before it starts (${since})`);
  const count = Math.floor((now - since) / bucketMs) + 1;
  if (count > maxTimeSeriesBuckets) {
    throw new RangeError(
      `${count} buckets requested; at most ${maxTimeSeriesBuckets}: widen bucketMs or shorten the window`,
    );
  }
  return count;
}

/**
 * Dense buckets from the sparse SQL rows, with the backlog at the end of each bucket walked back
 * from the backlog now: backlog(end of i) = waiting now - sum over later buckets of
 * (received - settled). It is a reconstruction from the rows as they are now (an event retried
 * after it settled counts as waiting since it was received), floored at 0.
 */
export function foldTimeSeries(
  rows: TimeSeriesRow[],
  since: number,
  now: number,
  bucketMs: number,
): TimeSeriesBucket[] {
  const count = countTimeSeriesBuckets(since, now, bucketMs);
  const buckets: TimeSeriesBucket[] = Array.from({ length: count }, (_, i) => ({
    start: since + i * bucketMs,
    received: 0,
    processed: 0,
    failed: 0,
    backlog: 0,
  }));
  const settled = new Array<number>(count).fill(0);
  let waiting = 0;
  for (const row of rows) {
    const n = Number(row.count);
    if (row.kind === 'waiting') {
      waiting = n;
      continue;
    }
    const index = Number(row.bucket);
    if (index < 0 || index >= count) continue;
    if (row.kind === 'settled') settled[index]! += n;
    else buckets[index]![row.kind] += n;
  }
  let backlog = waiting;
  for (let i = count - 1; i >= 0; i--) {
    buckets[i]!.backlog = Math.max(0, backlog);
    backlog -= buckets[i]!.received - settled[i]!;
  }
  return buckets;
}
