/**
 * A destination's `concurrency` and `ratePerSecond`: attempts beyond either limit wait in a
 * first-in-first-out queue and start when allowed; nothing is refused for being in excess.
 *
 * The rate is a token bucket refilled continuously at `ratePerSecond`. Its capacity is 20 ms
 * worth of tokens (at least one), so starts are spaced evenly instead of arriving as a burst of
 * a whole second's allowance after an idle spell; above 50 per second a timer tick lets a few
 * start together. The limits hold per process: N Hookbox processes sharing one database
 * deliver up to N times the rate.
 */
import { type Clock, systemClock } from '../clock.ts';

/** The timer functions the limiter sleeps with, injected so tests move time by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  // Unref'd: a long wait for a token must not keep a stopping process alive.
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface DeliveryLimitsOptions {
  concurrency: number;
  ratePerSecond?: number | undefined;
  clock?: Clock;
  timers?: Timers;
}

export interface RunOptions {
  /** Aborting while the task still waits takes it out of the queue (it rejects with the reason). */
  signal?: AbortSignal;
}

export interface DeliveryLimits {
  /** Run the task once a slot and a rate token are free, in order of arrival. */
  run<T>(task: () => Promise<T>, options?: RunOptions): Promise<T>;
  /** Tasks running now. */
  readonly running: number;
  /** Tasks waiting for a slot or a token. */
  readonly waiting: number;
}

interface Waiter {
  start: () => void;
}

/** The smallest burst the bucket holds, as a fraction of a second's tokens. */
const BURST_SECONDS = 0.02;

export function createDeliveryLimits(options: DeliveryLimitsOptions): DeliveryLimits {
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const rate = options.ratePerSecond;
  const capacity = rate === undefined ? Number.POSITIVE_INFINITY : Math.max(1, rate * BURST_SECONDS);
  let tokens = capacity;
  let refilledAt = clock.now();
  let running = 0;
  let wakeTimer: unknown;
  const queue: Waiter[] = [];

  const refill = () => {
    if (rate === undefined) return;
    const now = clock.now();
    tokens = Math.min(capacity, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
  };

  const pump = () => {
    while (queue.length > 0 && running < options.concurrency) {
      refill();
      if (tokens < 1) {
        if (wakeTimer === undefined && rate !== undefined) {
          const waitMs = Math.max(1, Math.ceil(((1 - tokens) / rate) * 1000));
          wakeTimer = timers.setTimeout(() => {
            wakeTimer = undefined;
            pump();
          }, waitMs);
        }
        return;
      }
      tokens -= 1;
      queue.shift()?.start();
    }
  };

  return {
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
    run<T>(task: () => Promise<T>, runOptions: RunOptions = {}): Promise<T> {
      const { signal } = runOptions;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          const index = queue.indexOf(waiter);
          if (index !== -1) queue.splice(index, 1);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            running += 1;
            // A task that throws synchronously still frees its slot.
            Promise.resolve()
              .then(task)
              .then(resolve, reject)
              .finally(() => {
                running -= 1;
                pump();
              });
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
        pump();
      });
    },
  };
}
