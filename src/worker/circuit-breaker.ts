import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';

/**
 * One circuit breaker per handler registration (the `source:eventType` pattern it was
 * registered under, e.g. `stripe:*` or `stripe:invoice.paid`). Keying by registration, not by
 * the event's own type, keeps the number of breakers (and of /metrics series) bounded by the
 * code, whatever types providers send.
 *
 * closed: events run; `failureThreshold` consecutive failures open it.
 * open: events of the handler wait (released without spending an attempt) until `cooldownMs`
 *   has passed since it opened.
 * half_open: one trial event runs; its success closes the breaker, its failure re-opens it for
 *   another cool-down. Events arriving while the trial runs wait `trialWaitMs`.
 *
 * State is per process: each Hookbox process sharing a PostgreSQL learns about a failing
 * handler from its own attempts (at most `failureThreshold` of them) and runs its own trial.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export const breakerStates: readonly BreakerState[] = ['closed', 'open', 'half_open'];

export interface CircuitBreakerSettings {
  /** Consecutive failed attempts of one handler that open its breaker (default 5). */
  failureThreshold: number;
  /** How long an open breaker holds events back before one trial (default 30 s). */
  cooldownMs: number;
  /** While a trial runs, other events of the handler wait this long before being tried again (default min(cool-down, 5 s)). */
  trialWaitMs?: number;
}

export const defaultCircuitBreakerSettings: Readonly<CircuitBreakerSettings> = Object.freeze({
  failureThreshold: 5,
  cooldownMs: 30_000,
});

export interface BreakerSnapshot {
  /** The handler registration: `source:eventType`, either side possibly `*`. */
  handler: string;
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (ISO 8601), or null. */
  openedAt: string | null;
  /** While open: when the trial may run (ISO 8601); null otherwise. */
  retryAt: string | null;
  /** How many times it has opened since the process started. */
  timesOpened: number;
  /** The error of the most recent failure, truncated. */
  lastError: string | null;
}

/** The answer to "may this event's handlers run now?". */
export type Admission =
  | {
      allowed: true /** Handlers whose trial this event is (conclude each with success/failure/abandon). */;
      trials: string[];
    }
  | {
      allowed: false /** When to try the event again. */;
      retryAt: number /** The handlers holding it back. */;
      blockedBy: string[];
    };

interface Breaker {
  state: BreakerState;
  failures: number;
  openedAt: number | null;
  retryAt: number | null;
  trialRunning: boolean;
  timesOpened: number;
  lastError: string | null;
}

export interface CircuitBreakersOptions {
  clock: Clock;
  settings?: Partial<CircuitBreakerSettings>;
  logger?: Logger;
}

export class CircuitBreakers {
  readonly settings: Readonly<Required<CircuitBreakerSettings>>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #breakers = new Map<string, Breaker>();

  constructor(options: CircuitBreakersOptions) {
    const merged = { ...defaultCircuitBreakerSettings, ...definedOnly(options.settings ?? {}) };
    if (!Number.isInteger(merged.failureThreshold) || merged.failureThreshold < 1)
      throw new Error('circuitBreaker.failureThreshold must be a whole number of at least 1');
    if (!(merged.cooldownMs >= 0)) throw new Error('circuitBreaker.cooldownMs must be 0 or more');
    this.settings = Object.freeze({
      ...merged,
      trialWaitMs: merged.trialWaitMs ?? Math.min(merged.cooldownMs, 5_000),
    });
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /**
   * Decide for one event whose handlers are registered under `handlers`. All or nothing: when
   * one breaker refuses, no trial permit is taken from the others.
   */
  admit(handlers: readonly string[]): Admission {
    const now = this.#clock.now();
    const blockedBy: string[] = [];
    const trials: string[] = [];
    let retryAt = now;
    for (const key of handlers) {
      const breaker = this.#breakers.get(key);
      if (!breaker || breaker.state === 'closed') continue;
      if (breaker.state === 'open' && now < (breaker.retryAt ?? now)) {
        blockedBy.push(key);
        retryAt = Math.max(retryAt, breaker.retryAt!);
      } else if (breaker.trialRunning) {
        blockedBy.push(key);
        retryAt = Math.max(retryAt, now + this.settings.trialWaitMs);
      } else {
        trials.push(key);
      }
    }
    if (blockedBy.length > 0) return { allowed: false, retryAt, blockedBy };
    for (const key of trials) {
      const breaker = this.#breakers.get(key)!;
      if (breaker.state === 'open') this.#transition(key, breaker, 'half_open');
      breaker.trialRunning = true;
    }
    return { allowed: true, trials };
  }

  /** The handler ran and succeeded: a closed breaker forgets past failures, a trial closes it. */
  recordSuccess(handler: string, trial: boolean): void {
    const breaker = this.#breakers.get(handler);
    if (!breaker) return;
    if (breaker.state === 'closed') {
      breaker.failures = 0;
      return;
    }
    // Only the trial decides a half-open breaker; a straggler that started before it opened does not.
    if (!trial) return;
    breaker.trialRunning = false;
    breaker.failures = 0;
    breaker.retryAt = null;
    this.#transition(handler, breaker, 'closed');
  }

  /** The handler ran and failed (an error or a timeout). */
  recordFailure(handler: string, trial: boolean, error: string): void {
    const breaker = this.#ensure(handler);
    breaker.lastError = error.length > 300 ? `${error.slice(0, 300)}…` : error;
    if (breaker.state === 'closed') {
      breaker.failures++;
      if (breaker.failures >= this.settings.failureThreshold) this.#open(handler, breaker);
      return;
    }
    if (!trial) return;
    breaker.trialRunning = false;
    breaker.failures++;
    this.#open(handler, breaker);
  }

  /** A trial event that did not run to a verdict (shutdown, lost lease): the next event may try. */
  abandonTrial(handler: string): void {
    const breaker = this.#breakers.get(handler);
    if (breaker) breaker.trialRunning = false;
  }

  /** Every breaker that has seen a failure, in handler order. */
  snapshot(): BreakerSnapshot[] {
    const now = this.#clock.now();
    return [...this.#breakers.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([handler, breaker]) => ({
        handler,
        // An open breaker whose cool-down is over admits the next event as its trial.
        state: breaker.state === 'open' && now >= (breaker.retryAt ?? now) ? 'half_open' : breaker.state,
        consecutiveFailures: breaker.failures,
        openedAt: iso(breaker.openedAt),
        retryAt: breaker.state === 'open' ? iso(breaker.retryAt) : null,
        timesOpened: breaker.timesOpened,
        lastError: breaker.lastError,
      }));
  }

  /** Handlers whose breaker is not closed (for a quick health summary). */
  openHandlers(): string[] {
    return this.snapshot()
      .filter((s) => s.state !== 'closed')
      .map((s) => s.handler);
  }

  #ensure(handler: string): Breaker {
    let breaker = this.#breakers.get(handler);
    if (!breaker) {
      breaker = {
        state: 'closed',
        failures: 0,
        openedAt: null,
        retryAt: null,
        trialRunning: false,
        timesOpened: 0,
        lastError: null,
      };
      this.#breakers.set(handler, breaker);
    }
    return breaker;
  }

  #open(handler: string, breaker: Breaker): void {
    const now = this.#clock.now();
    breaker.openedAt = now;
    breaker.retryAt = now + this.settings.cooldownMs;
    breaker.timesOpened++;
    this.#transition(handler, breaker, 'open');
  }

  #transition(handler: string, breaker: Breaker, to: BreakerState): void {
    const from = breaker.state;
    breaker.state = to;
    if (from === to && to !== 'open') return;
    if (to === 'open') {
      this.#logger?.warn(
        {
          handler,
          consecutiveFailures: breaker.failures,
          retryAt: new Date(breaker.retryAt!).toISOString(),
          err: breaker.lastError,
        },
        'circuit breaker opened: events of this handler wait without spending attempts',
      );
    } else if (to === 'closed') {
      this.#logger?.info({ handler }, 'circuit breaker closed: the trial event succeeded');
    } else {
      this.#logger?.info({ handler }, 'circuit breaker half-open: one trial event runs');
    }
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
