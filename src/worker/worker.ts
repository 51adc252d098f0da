import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Clock, Random } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { noopTelemetry, type Telemetry, withSpan } from '../monitor/telemetry.ts';
import { maskCardNumbers } from '../redaction.ts';
import type { AttemptResult, Store, StoredEvent } from '../store/types.ts';
import type { CircuitBreakers } from './circuit-breaker.ts';
import type { HandlerRegistry } from './handler-registry.ts';
import { decideAfterFailure, type RetryPolicy } from './retry-policy.ts';

export interface WorkerOptions {
  store: Store;
  handlers: HandlerRegistry;
  clock: Clock;
  random: Random;
  logger: Logger;
  retryPolicy: RetryPolicy;
  /** Decode a stored event's body into what handlers receive. */
  decodePayload: (event: StoredEvent) => unknown;
  telemetry?: Telemetry;
  workerId?: string;
  /** How long a claim holds an event; renewed every third of it while the handler runs. */
  leaseMs?: number;
  /** Events claimed per query. */
  batchSize?: number;
  /** Handlers running at once. */
  concurrency?: number;
  /** The polling backstop when no wake-up arrives. */
  pollIntervalMs?: number;
  /** An attempt running longer fails and its signal aborts. */
  handlerTimeoutMs?: number;
  /** Sources whose events this worker must leave alone for now (open circuit breakers). */
  excludeSources?: () => string[];
  /** Per-handler circuit breakers: events of a handler whose breaker is open wait without spending attempts. */
  breakers?: CircuitBreakers;
}

interface InFlight {
  event: StoredEvent;
  controller: AbortController;
  done: Promise<AttemptSummary>;
}

/** How one attempt ended, as the sync receive path reports it. */
export interface AttemptSummary {
  outcome: AttemptResult['outcome'] | 'lease_lost';
  error?: string;
}

/** Why an attempt's signal fired, so the error recorded says which. */
class AttemptAborted extends Error {}

/**
 * Claims due events in batches under a lease, runs their handlers with bounded concurrency,
 * and writes outcomes back in batches fenced by this worker's id (DESIGN invariants 3-5).
 */
export class Worker {
  readonly workerId: string;
  readonly #o: Required<Omit<WorkerOptions, 'workerId' | 'excludeSources' | 'breakers'>> &
    Pick<WorkerOptions, 'excludeSources' | 'breakers'>;
  readonly #inFlight = new Map<string, InFlight>();
  #pendingResults: AttemptResult[] = [];
  #flushing: Promise<void> | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #wakeRequested = false;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => Promise<void>) | null = null;
  #stopping = false;

  constructor(options: WorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.#o = {
      telemetry: noopTelemetry,
      leaseMs: 30_000,
      batchSize: 50,
      concurrency: 50,
      pollIntervalMs: 1_000,
      handlerTimeoutMs: 30_000,
      ...options,
    };
  }

  get running(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#unsubscribe = await this.#o.store.onEventsRecorded(() => this.wake());
    const { leaseMs } = this.#o;
    this.#timers.push(setInterval(() => void this.#extendLeases(), Math.max(50, leaseMs / 3)).unref());
    this.#timers.push(setInterval(() => void this.#reclaimExpired(), Math.max(100, leaseMs / 2)).unref());
    void this.#reclaimExpired();
    this.#loop = this.#runLoop();
  }

  /** Ask an idle worker to look for events now. */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeUp?.();
  }

  /**
   * Stop claiming, give in-flight handlers `graceMs` to finish, then abort the rest and release
   * them back to pending (their attempt does not count), so nothing waits for a lease to expire.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopping = true;
    this.wake();
    await this.#loop;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    const finished = Promise.all([...this.#inFlight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const flight of this.#inFlight.values())
        flight.controller.abort(new AttemptAborted('worker shutting down'));
      await finished;
    }
    await this.#flush();
    await this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Reclaim expired leases, then claim and process due events until none is left; returns how many ran.
   * For tests, the CLI and one-shot jobs; a started worker does this continuously.
   */
  async processDue(): Promise<number> {
    await this.#reclaimExpired();
    let total = 0;
    for (;;) {
      const events = await this.#claim(this.#o.batchSize);
      if (events.length === 0) break;
      total += events.length;
      await Promise.all(events.map((event) => this.#launch(event, undefined).done));
      await this.#flush();
    }
    return total;
  }

  /**
   * Run the handlers of an event already claimed by this worker (sync mode) and write the
   * outcome before returning it. `payload` skips decoding the body a second time.
   */
  async processClaimed(event: StoredEvent, payload?: unknown): Promise<AttemptSummary> {
    const summary = await this.#launch(event, payload).done;
    await this.#flush();
    return summary;
  }

  async #runLoop(): Promise<void> {
    while (this.#running) {
      const room = this.#o.concurrency - this.#inFlight.size;
      if (room > 0) {
        this.#wakeRequested = false;
        const limit = Math.min(room, this.#o.batchSize);
        try {
          const events = await this.#claim(limit);
          for (const event of events) this.#launch(event, undefined);
          // A full batch means more may be due: claim again at once.
          if (events.length === limit) continue;
        } catch (error) {
          this.#o.logger.warn(
            { err: errorMessage(error) },
            'claiming events failed; retrying after the poll interval',
          );
        }
      }
      if (this.#running) await this.#sleep(this.#o.pollIntervalMs);
    }
  }

  /** Wait for a wake-up (new events, a finished handler) or the polling backstop. */
  #sleep(ms: number): Promise<void> {
    if (this.#wakeRequested && this.#inFlight.size < this.#o.concurrency) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.#wakeUp = finish;
    });
  }

  #claim(limit: number): Promise<StoredEvent[]> {
    return this.#o.store.claimEvents({
      workerId: this.workerId,
      limit,
      leaseMs: this.#o.leaseMs,
      now: this.#o.clock.now(),
      excludeSources: this.#o.excludeSources?.(),
    });
  }

  #launch(event: StoredEvent, payload?: unknown): InFlight {
    const controller = new AbortController();
    const flight: InFlight = { event, controller, done: Promise.resolve({ outcome: 'released' }) };
    this.#inFlight.set(event.id, flight);
    flight.done = this.#attempt(event, controller, payload)
      .catch((error): AttemptSummary => {
        this.#o.logger.error({ eventId: event.id, err: errorMessage(error) }, 'recording an attempt failed');
        return { outcome: 'failed', error: errorMessage(error) };
      })
      .finally(() => {
        this.#inFlight.delete(event.id);
        if (this.#running) this.wake();
      });
    return flight;
  }

  #attempt(event: StoredEvent, controller: AbortController, payload: unknown): Promise<AttemptSummary> {
    return withSpan(
      'hookbox.attempt',
      {
        'hookbox.source': event.source,
        'hookbox.event_type': event.eventType,
        'hookbox.event_id': event.id,
        'hookbox.attempt': event.attempts,
      },
      (span) => this.#runAttempt(event, controller, payload, span),
    );
  }

  async #runAttempt(
    event: StoredEvent,
    controller: AbortController,
    givenPayload: unknown,
    span: Span,
  ): Promise<AttemptSummary> {
    const { clock, logger, handlers, store } = this.#o;
    const startedAt = clock.now();
    const found = handlers.findRegistrations(event.source, event.eventType);
    if (found.length === 0) {
      span.setAttribute('hookbox.outcome', 'ignored');
      await this.#queueResult({ eventId: event.id, outcome: 'ignored', startedAt, finishedAt: startedAt });
      this.#o.telemetry.attemptFinished(event.source, 'ignored', 0);
      return { outcome: 'ignored' };
    }
    const breakers = this.#o.breakers;
    const admission = breakers?.admit(found.map((r) => r.key)) ?? { allowed: true as const, trials: [] };
    if (!admission.allowed) {
      // An open breaker: hand the event back, due when the breaker allows a try; the attempt does not count.
      const reason = `circuit breaker open for ${admission.blockedBy.join(', ')}; waiting until ${new Date(admission.retryAt).toISOString()}`;
      span.setAttribute('hookbox.outcome', 'released');
      await this.#queueResult({
        eventId: event.id,
        outcome: 'released',
        startedAt,
        finishedAt: startedAt,
        nextAttemptAt: admission.retryAt,
        error: reason,
      });
      return { outcome: 'released', error: reason };
    }
    const trials = new Set(admission.trials);
    const attemptLogger = logger.child({ eventId: event.id, source: event.source, attempt: event.attempts });
    const tx = await store.beginEventTransaction();
    const timeout = setTimeout(
      () => controller.abort(new AttemptAborted(`handler timed out after ${this.#o.handlerTimeoutMs} ms`)),
      this.#o.handlerTimeoutMs,
    );
    let failure: unknown = null;
    // Which registration ran last, so a failure is charged to its breaker and no other.
    let running = -1;
    try {
      const payload = givenPayload === undefined ? this.#o.decodePayload(event) : givenPayload;
      for (const { handler } of found) {
        running++;
        await raceAbort(
          Promise.resolve(
            handler({
              event,
              payload,
              attempt: event.attempts,
              logger: attemptLogger,
              signal: controller.signal,
              tx: tx?.handle,
            }),
          ),
          controller.signal,
        );
      }
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(timeout);
    }

    const finishedAt = clock.now();
    const durationMs = finishedAt - startedAt;
    if (breakers) {
      const succeeded = failure === null && !controller.signal.aborted;
      concludeBreakers(
        breakers,
        found,
        trials,
        running,
        succeeded ? null : (failure ?? controller.signal.reason),
      );
    }
    if (failure === null && !controller.signal.aborted) {
      span.setAttribute('hookbox.outcome', 'processed');
      this.#o.telemetry.attemptFinished(event.source, 'processed', durationMs);
      const result: AttemptResult = { eventId: event.id, outcome: 'processed', startedAt, finishedAt };
      if (tx?.used) {
        const kept = await tx.commitWith(this.workerId, result, finishedAt);
        if (!kept) attemptLogger.warn('lease lost before commit; the handler transaction was rolled back');
        return { outcome: kept ? 'processed' : 'lease_lost' };
      }
      await tx?.rollback();
      await this.#queueResult(result);
      return { outcome: 'processed' };
    }

    await tx?.rollback();
    if (failure === null) failure = controller.signal.reason;
    if (this.#stopping && failure instanceof AttemptAborted && failure.message === 'worker shutting down') {
      span.setAttribute('hookbox.outcome', 'released');
      await this.#queueResult({ eventId: event.id, outcome: 'released', startedAt, finishedAt });
      return { outcome: 'released' };
    }
    // The error goes to the audit trail and the admin API: card numbers in it are masked there too.
    const message = maskCardNumbers(errorMessage(failure));
    const decision = decideAfterFailure(this.#o.retryPolicy, event.attempts, finishedAt, this.#o.random);
    span.setAttribute('hookbox.outcome', decision.outcome);
    this.#o.telemetry.attemptFinished(event.source, decision.outcome, durationMs);
    attemptLogger.warn({ err: message, outcome: decision.outcome }, 'handler failed');
    await this.#queueResult({
      eventId: event.id,
      outcome: decision.outcome,
      startedAt,
      finishedAt,
      error: message,
      nextAttemptAt: decision.outcome === 'failed' ? decision.nextAttemptAt : undefined,
    });
    return { outcome: decision.outcome, error: message };
  }

  /** Results are written in batches: whatever finished while the previous write ran goes in the next. */
  #queueResult(result: AttemptResult): Promise<void> {
    this.#pendingResults.push(result);
    return this.#flush();
  }

  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pendingResults.length === 0) return;
    const batch = this.#pendingResults;
    this.#pendingResults = [];
    this.#flushing = this.#writeResults(batch).finally(() => {
      this.#flushing = null;
    });
    await this.#flushing;
  }

  async #writeResults(batch: AttemptResult[]): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.#o.store.finishAttempts(this.workerId, batch, this.#o.clock.now());
        return;
      } catch (error) {
        // The outcome is known; losing it would re-run handlers. Retry while the lease lasts.
        if (tries >= 5) throw error;
        this.#o.logger.warn({ err: errorMessage(error), tries }, 'writing attempt results failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
      }
    }
  }

  async #extendLeases(): Promise<void> {
    const ids = [...this.#inFlight.keys()];
    if (ids.length === 0) return;
    const now = this.#o.clock.now();
    try {
      const held = new Set(await this.#o.store.extendLeases(this.workerId, ids, now + this.#o.leaseMs, now));
      for (const id of ids) {
        const flight = this.#inFlight.get(id);
        if (flight && !held.has(id))
          flight.controller.abort(new AttemptAborted('lease lost to another worker'));
      }
    } catch (error) {
      this.#o.logger.warn({ err: errorMessage(error) }, 'extending leases failed');
    }
  }

  async #reclaimExpired(): Promise<void> {
    try {
      const ids = await this.#o.store.reclaimExpiredLeases(
        this.#o.clock.now(),
        this.#o.retryPolicy.maxAttempts,
      );
      if (ids.length > 0) {
        this.#o.logger.warn({ count: ids.length }, 'reclaimed events whose lease expired');
        this.wake();
      }
    } catch (error) {
      this.#o.logger.warn({ err: errorMessage(error) }, 'reclaiming expired leases failed');
    }
  }
}

/**
 * Tell each breaker how its handlers did: the ones that ran before the failing one succeeded,
 * the failing one failed (unless the attempt was cut short by shutdown or a lost lease, which
 * says nothing about the handler), and trials that got no verdict are handed back.
 */
function concludeBreakers(
  breakers: CircuitBreakers,
  found: { key: string }[],
  trials: Set<string>,
  running: number,
  failure: unknown,
): void {
  const chargeable =
    failure !== null &&
    !(
      failure instanceof AttemptAborted &&
      (failure.message === 'worker shutting down' || failure.message === 'lease lost to another worker')
    );
  const verdicts = new Map<string, 'ok' | 'failed' | 'unknown'>();
  found.forEach(({ key }, index) => {
    const verdict =
      failure === null || index < running ? 'ok' : index === running && chargeable ? 'failed' : 'unknown';
    const previous = verdicts.get(key);
    if (previous === 'failed' || (previous === 'unknown' && verdict === 'ok')) return;
    verdicts.set(key, verdict);
  });
  for (const [key, verdict] of verdicts) {
    const trial = trials.has(key);
    if (verdict === 'ok') breakers.recordSuccess(key, trial);
    else if (verdict === 'failed') breakers.recordFailure(key, trial, errorMessage(failure));
    else if (trial) breakers.abandonTrial(key);
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
