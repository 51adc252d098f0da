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

/** What happens after failed attempt number `attempt`. */
export function decideAfterFailure(
  policy: RetryPolicy,
  attempt: number,
  now: number,
  random: Random,
): { outcome: 'failed'; nextAttemptAt: number } | { outcome: 'dead' } {
  if (attempt >= policy.maxAttempts) return { outcome: 'dead' };
  return { outcome: 'failed', nextAttemptAt: now + computeRetryDelay(policy, attempt, random) };
}
