/**
 * What follows an attempt: done, try again at a time, dead, or disable the destination.
 * Pure, so phase 2's claim loop and the tests share one rule.
 */
import type { Random } from '../clock.ts';
import { computeRetryDelay } from '../worker/retry-policy.ts';
import type { DeliveryAttemptResult } from './deliver.ts';
import type { Destination } from './settings.ts';

export type NextStep =
  | { outcome: 'succeeded' }
  /** Try again at `nextAttemptAt` (ms since the epoch). */
  | { outcome: 'retry'; nextAttemptAt: number; delayMs: number }
  /** Out of attempts: the delivery is dead until retried by hand. */
  | { outcome: 'dead' }
  /**
   * 410 Gone: disable the destination. This delivery is not dead: it waits with the others
   * until an operator enables the destination again.
   */
  | { outcome: 'disable' };

/**
 * After attempt number `attempt` (1-based): a Retry-After from a 429 or 503 is waited exactly,
 * capped by the backoff maximum; any other failure waits a full-jitter exponential delay, a
 * uniform draw in [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))), so a burst of failures
 * does not come back in lockstep.
 */
export function decideNextStep(
  destination: Destination,
  attempt: number,
  result: DeliveryAttemptResult,
  now: number,
  random: Random,
): NextStep {
  if (result.verdict === 'succeeded') return { outcome: 'succeeded' };
  if (result.verdict === 'disable') return { outcome: 'disable' };
  if (attempt >= destination.maxAttempts) return { outcome: 'dead' };
  const delayMs =
    result.retryAfterMs !== undefined
      ? Math.min(result.retryAfterMs, destination.backoff.maxDelayMs)
      : computeRetryDelay({ maxAttempts: destination.maxAttempts, ...destination.backoff }, attempt, random);
  return { outcome: 'retry', nextAttemptAt: now + delayMs, delayMs };
}
