import type { Random } from '../clock.ts';

export interface RetryPolicy {
  /** Attempts before an event is dead (the first try counts). */
  maxAttempts: number;
  /** Backoff base: the cap of the first retry's delay. */
  baseDelayMs: number;
  /** No delay exceeds this. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 10_000,
  maxDelayMs: 6 * 60 * 60_000,
};

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * a uniform delay in [0, min(max, base * 2^(attempt-1))). Full jitter spreads a failing burst
 * so retries do not arrive in lockstep.
 */
export function computeRetryDelay(policy: RetryPolicy, attempt: number, random: Random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * What happens after failed attempt number `attempt`: dead once the budget is spent, else due
 * again after a delay (a duration: the store adds it to its own clock).
 */
export function decideAfterFailure(
  policy: RetryPolicy,
  attempt: number,
  random: Random,
): { outcome: 'failed'; retryDelayMs: number } | { outcome: 'dead' } {
  if (attempt >= policy.maxAttempts) return { outcome: 'dead' };
  return { outcome: 'failed', retryDelayMs: computeRetryDelay(policy, attempt, random) };
}

/**
 * The longest an event with a permanently failing handler takes to reach dead under `policy`:
 * the sum of each retry's ceiling (full jitter averages half of it), plus the attempts' own
 * run time, which the caller adds.
 */
export function maxTimeToDeadMs(policy: RetryPolicy): number {
  let total = 0;
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++) {
    total += Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  }
  return total;
}
