import type { Clock } from '../clock.ts';

/**
 * Rejected deliveries store nothing (DESIGN, data flow), so the store cannot count them: this
 * log keeps per-minute counts in memory, per process, for the monitoring window. Counts from
 * other processes sharing the database are not included (Prometheus sums those across
 * processes).
 */
export interface RejectionCounts {
  total: number;
  byReason: Record<string, number>;
  bySource: Record<string, number>;
}

export interface RejectionLog {
  record(source: string, reason: string): void;
  /** Rejections at or after `since` (epoch ms). */
  countSince(since: number): RejectionCounts;
}

const minuteMs = 60_000;

export function createRejectionLog(clock: Clock, retentionMs = 7 * 24 * 60 * minuteMs): RejectionLog {
  // minute -> "source\0reason" -> count; only minutes with rejections exist.
  const minutes = new Map<number, Map<string, number>>();

  function prune(now: number): void {
    const oldest = Math.floor((now - retentionMs) / minuteMs);
    for (const minute of minutes.keys()) if (minute < oldest) minutes.delete(minute);
  }

  return {
    record(source, reason) {
      const now = clock.now();
      const minute = Math.floor(now / minuteMs);
      let bucket = minutes.get(minute);
      if (!bucket) {
        prune(now);
        bucket = new Map();
        minutes.set(minute, bucket);
      }
      const key = `${source}\u0000${reason}`;
      bucket.set(key, (bucket.get(key) ?? 0) + 1);
    },
    countSince(since) {
      // Minute granularity: the bucket holding `since` counts whole.
      const first = Math.floor(since / minuteMs);
      const counts: RejectionCounts = { total: 0, byReason: {}, bySource: {} };
      for (const [minute, bucket] of minutes) {
        if (minute < first) continue;
        for (const [key, count] of bucket) {
          const [source = '', reason = ''] = key.split('\u0000');
          counts.total += count;
          counts.byReason[reason] = (counts.byReason[reason] ?? 0) + count;
          counts.bySource[source] = (counts.bySource[source] ?? 0) + count;
        }
      }
      return counts;
    },
  };
}
