import type { Random } from '../clock.ts';
import type { WorkerStore } from '../store/types.ts';
import { decideAfterFailure, type RetryPolicy } from './retry-policy.ts';

/**
 * Reclaim leases that ran out without a verdict (a crashed or partitioned worker). The lost
 * attempt counts, and the event waits its backoff like any failed attempt: a handler that
 * crashes its process must not burn the attempts of every event claimed beside it within
 * seconds. Each reclaim is fenced by the claim token it was found with, so a holder that renewed
 * meanwhile keeps its event. Returns the ids reclaimed.
 */
export async function reclaimExpiredLeases(
  store: Pick<WorkerStore, 'findExpiredLeases' | 'reclaimExpiredLeases'>,
  policy: RetryPolicy,
  random: Random,
  limit = 500,
): Promise<string[]> {
  const expired = await store.findExpiredLeases(limit);
  if (expired.length === 0) return [];
  return store.reclaimExpiredLeases(
    expired.map((lease) => {
      const decision = decideAfterFailure(policy, lease.attempts, random);
      return {
        ...lease,
        outcome: decision.outcome,
        retryDelayMs: decision.outcome === 'failed' ? decision.retryDelayMs : 0,
      };
    }),
  );
}
