import type { Clock, Random } from '../clock.ts';
import type { Store } from '../store/types.ts';
import { reclaimExpiredLeases } from '../worker/reclaim.ts';
import type { RetryPolicy } from '../worker/retry-policy.ts';

export interface RemediationSettings {
  /** Backoff and attempt budget for reclaimed leases (a lost attempt waits like a failed one). */
  retryPolicy: RetryPolicy;
  /**
   * Events held in `processing` longer than this are reported (a handler that never settles).
   * They are not requeued: their holder still runs the handler, and a second run beside it is
   * exactly what the lease prevents.
   */
  stuckAfterMinutes: number;
  /** Requeue failed events whose backoff has passed (default true). */
  releaseDueFailed?: boolean;
  /** Delete processed events older than this many days; null skips cleanup. */
  retentionDays: number | null;
  /** Empty the bodies (keeping metadata) of processed events older than this many days; null or absent skips it. */
  scrubBodiesAfterDays?: number | null;
  /** Also requeue dead events. Never done unless asked: dead means a human should look first. */
  includeDead?: boolean;
  /** Most events released per kind in one run, so a huge backlog does not make one giant statement. */
  batchLimit?: number;
}

/** What one run changed, action by action. */
export interface RemediationReport {
  reclaimedLeases: { count: number; eventIds: string[] };
  heldTooLong: { count: number; stuckAfterMinutes: number };
  releasedFailed: { count: number; eventIds: string[] } | null;
  requeuedDead: { count: number } | null;
  cleanedUp: { count: number; olderThanDays: number } | null;
  scrubbedBodies: { count: number; olderThanDays: number } | null;
  startedAt: string;
  finishedAt: string;
}

export const defaultStuckAfterMinutes = 30;
const dayMs = 24 * 60 * 60_000;

/**
 * Repair what a crash or a stall leaves behind, each step through one Store operation:
 * reclaim expired leases (they wait their backoff), report events held too long, release due
 * failed events, delete and scrub processed events past retention. Dead events stay dead unless
 * `includeDead`.
 */
export async function autoRemediate(
  deps: { store: Store; clock: Clock; random: Random; wake?: () => void },
  settings: RemediationSettings,
): Promise<RemediationReport> {
  const { store, clock } = deps;
  const startedAt = clock.now();
  const limit = settings.batchLimit ?? 1_000;

  const reclaimed = await reclaimExpiredLeases(store, settings.retryPolicy, deps.random, limit);
  const heldTooLong = await store.countHeldLongerThan(settings.stuckAfterMinutes * 60_000);

  let releasedFailed: RemediationReport['releasedFailed'] = null;
  if (settings.releaseDueFailed !== false) {
    // A due failed event sitting unclaimed means no worker looked (none running, or asleep):
    // wake the workers. Its attempt count is kept, so a permanently failing event still ends
    // dead instead of getting a fresh retry budget every maintenance run.
    const due = await store.listRetryableEvents(limit);
    const reclaimedIds = new Set(reclaimed);
    const ids = due.map((event) => event.id).filter((id) => !reclaimedIds.has(id));
    if (ids.length > 0 || reclaimed.length > 0) deps.wake?.();
    releasedFailed = { count: ids.length, eventIds: ids };
  }

  const requeuedDead = settings.includeDead ? { count: await store.requeueEvents({ status: 'dead' }) } : null;

  const cleanedUp =
    settings.retentionDays === null
      ? null
      : {
          count: await store.deleteProcessedBefore(clock.now() - settings.retentionDays * dayMs),
          olderThanDays: settings.retentionDays,
        };

  const scrubAfter = settings.scrubBodiesAfterDays ?? null;
  const scrubbedBodies =
    scrubAfter === null
      ? null
      : { count: await scrubAll(store, clock.now() - scrubAfter * dayMs, limit), olderThanDays: scrubAfter };

  return {
    reclaimedLeases: { count: reclaimed.length, eventIds: reclaimed },
    heldTooLong: { count: heldTooLong, stuckAfterMinutes: settings.stuckAfterMinutes },
    releasedFailed,
    requeuedDead,
    cleanedUp,
    scrubbedBodies,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(clock.now()).toISOString(),
  };
}

/** Scrub every eligible body, `limit` events at a time, walking the events once in id order. */
async function scrubAll(store: Store, before: number, limit: number): Promise<number> {
  let count = 0;
  let afterId = '';
  for (;;) {
    const step = await store.scrubBodiesBefore(before, { limit, afterId });
    count += step.count;
    if (step.lastId === null) return count;
    afterId = step.lastId;
  }
}
