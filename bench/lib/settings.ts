/** How long and how hard each scenario runs: `--quick` (under a minute for both engines) or full. */
export interface BenchSettings {
  quick: boolean;
  ingest: {
    connections: number;
    /** Unmeasured load before each server's first round, seconds. */
    warmupSec: number;
    /** One measured round, seconds; the servers are loaded in turn, `rounds` times. */
    durationSec: number;
    rounds: number;
    /** Hard bound on requests per round. */
    maxRequests: number;
    /** Every n-th delivery repeats an earlier event id (10 = 10%). */
    repeatEvery: number;
  };
  /**
   * Every peer drains the same queue: `events` stored before the clock starts, drained until all
   * are done or `timeLimitSec` passes (the rate counts what finished by then).
   */
  drain: { events: number; timeLimitSec: number };
  /**
   * Forwarding: `events` stored with a delivery each, sent to a no-op destination by Hookbox and
   * by a bare undici loop, both with `concurrency` requests in flight.
   */
  forward: { events: number; concurrency: number; timeLimitSec: number };
  latency: { rate: number; warmupSec: number; durationSec: number; connections: number };
  /**
   * Ordering (scenarios/ordering.ts): `events` over `keys` keys vs unordered, in `rounds`
   * alternating pairs (the ratio is their median); one key with `oneKeyEvents`.
   */
  ordering: { events: number; keys: number; rounds: number; oneKeyEvents: number; timeLimitSec: number };
  /** Measure the bare node:http ceiling once for the run instead of beside each engine's Hookbox. */
  shareCeiling: boolean;
}

export function benchSettings(quick: boolean): BenchSettings {
  return quick
    ? {
        quick,
        ingest: {
          connections: 50,
          warmupSec: 1,
          durationSec: 2,
          rounds: 1,
          maxRequests: 100_000,
          repeatEvery: 10,
        },
        drain: { events: 2_000, timeLimitSec: 3 },
        forward: { events: 2_000, concurrency: 20, timeLimitSec: 10 },
        latency: { rate: 500, warmupSec: 0.5, durationSec: 2, connections: 20 },
        ordering: { events: 5_000, keys: 100, rounds: 1, oneKeyEvents: 200, timeLimitSec: 15 },
        shareCeiling: true,
      }
    : {
        quick,
        ingest: {
          connections: 50,
          warmupSec: 3,
          durationSec: 6,
          rounds: 3,
          maxRequests: 500_000,
          repeatEvery: 10,
        },
        drain: { events: 50_000, timeLimitSec: 120 },
        forward: { events: 20_000, concurrency: 20, timeLimitSec: 120 },
        latency: { rate: 500, warmupSec: 2, durationSec: 20, connections: 20 },
        ordering: { events: 50_000, keys: 1_000, rounds: 3, oneKeyEvents: 2_000, timeLimitSec: 120 },
        shareCeiling: false,
      };
}
