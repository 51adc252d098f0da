/** Time is injected everywhere (DESIGN invariant 6) so leases, tolerances and backoff test without sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export function createManualClock(start = Date.UTC(2026, 0, 1)): Clock & {
  set(ms: number): void;
  advance(ms: number): void;
} {
  let current = start;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

/** A source of uniform numbers in [0, 1), injected for backoff jitter. */
export type Random = () => number;
