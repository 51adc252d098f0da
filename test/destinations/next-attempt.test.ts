import { describe, expect, it } from 'vitest';
import { type DeliveryAttemptResult, parseRetryAfter } from '../../src/destinations/deliver.ts';
import { decideNextStep } from '../../src/destinations/next-attempt.ts';
import { makeDestination } from './helpers.ts';

const destination = makeDestination({
  url: 'https://app.example.com/hooks',
  maxAttempts: 5,
  backoff: { baseDelayMs: 1000, maxDelayMs: 10_000 },
});
const now = Date.UTC(2026, 0, 1);

function result(fields: Partial<DeliveryAttemptResult>): DeliveryAttemptResult {
  return {
    verdict: 'retry',
    startedAt: now,
    durationMs: 5,
    statusCode: 500,
    retryAfterMs: undefined,
    location: undefined,
    responseExcerpt: Buffer.alloc(0),
    responseTruncated: false,
    errorCode: 'status',
    error: 'answered 500',
    ...fields,
  };
}

describe('decideNextStep', () => {
  it('ends a succeeded delivery', () => {
    expect(decideNextStep(destination, 1, result({ verdict: 'succeeded' }), now, Math.random)).toEqual({
      outcome: 'succeeded',
    });
  });

  it('backs off exponentially with full jitter, capped by maxDelayMs', () => {
    // The ceiling doubles from baseDelayMs; the draw is uniform below it.
    const ceilings = [1, 2, 3, 4].map((attempt) => {
      const step = decideNextStep(destination, attempt, result({}), now, () => 0.999999);
      return step.outcome === 'retry' ? step.delayMs : undefined;
    });
    expect(ceilings).toEqual([999, 1999, 3999, 7999]);
    const capped = makeDestination({
      url: 'https://a.example.com/',
      maxAttempts: 20,
      backoff: { baseDelayMs: 1000, maxDelayMs: 10_000 },
    });
    expect(decideNextStep(capped, 10, result({}), now, () => 0.999999)).toMatchObject({ delayMs: 9999 });
    expect(decideNextStep(destination, 3, result({}), now, () => 0)).toEqual({
      outcome: 'retry',
      nextAttemptAt: now,
      delayMs: 0,
    });
  });

  it('waits a Retry-After exactly, without jitter, capped by maxDelayMs', () => {
    expect(
      decideNextStep(destination, 1, result({ statusCode: 429, retryAfterMs: 2000 }), now, () => 0),
    ).toEqual({
      outcome: 'retry',
      nextAttemptAt: now + 2000,
      delayMs: 2000,
    });
    expect(
      decideNextStep(destination, 1, result({ statusCode: 503, retryAfterMs: 86_400_000 }), now, () => 0),
    ).toMatchObject({ delayMs: 10_000 });
  });

  it('is dead after maxAttempts, a Retry-After or not', () => {
    expect(decideNextStep(destination, 5, result({}), now, Math.random)).toEqual({ outcome: 'dead' });
    expect(decideNextStep(destination, 5, result({ retryAfterMs: 1000 }), now, Math.random)).toEqual({
      outcome: 'dead',
    });
  });

  it('disables the destination on 410 whatever the attempt number', () => {
    for (const attempt of [1, 5]) {
      expect(
        decideNextStep(
          destination,
          attempt,
          result({ verdict: 'disable', statusCode: 410 }),
          now,
          Math.random,
        ),
      ).toEqual({
        outcome: 'disable',
      });
    }
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['2', 2000],
    [' 120 ', 120_000],
    ['0', 0],
    [new Date(now + 90_000).toUTCString(), 90_000],
    [new Date(now - 90_000).toUTCString(), 0],
    ['2.5', undefined],
    ['-1', undefined],
    ['soon', undefined],
    ['', undefined],
  ])('%j -> %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('reads no header as none', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
