import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Clock, Random } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { maskCardNumbers } from '../redaction.ts';
import type {
  AttemptResult,
  Claim,
  ClaimedEvent,
  OrderingRef,
  StoredEvent,
  TransactionHandle,
  WorkerStore,
} from '../store/types.ts';
import { noopTelemetry, type Telemetry, withSpan } from '../telemetry.ts';
import type { CircuitBreakers } from './circuit-breaker.ts';
import type { HandlerRegistry } from './handler-registry.ts';
import { reclaimExpiredLeases } from './reclaim.ts';
import { ResultWriter } from './result-writer.ts';
import { decideAfterFailure, type RetryPolicy } from './retry-policy.ts';
import { waitForSettled } from './wait-for-settled.ts';

export interface WorkerOptions {
  store: WorkerStore;
  handlers: HandlerRegistry;
  /** The worker's own clock: when attempts started and ended (the audit trail), breaker times. */
  clock: Clock;
  random: Random;
  logger: Logger;
  retryPolicy: RetryPolicy;
  /** Decode a stored event's body into what handlers receive. */
  decodePayload: (event: StoredEvent) => unknown;
  telemetry?: Telemetry;
  workerId?: string;
  /** How long a claim holds an event; renewed every quarter of it while anything is held. */
  leaseMs?: number;
  /** Events claimed per query. */
  batchSize?: number;
  /** Events held at once (handlers running, including ones past their timeout that have not settled). */
  concurrency?: number;
  /** The polling backstop when no wake-up arrives. */
  pollIntervalMs?: number;
  /** An attempt running longer fails and its signal aborts; the event stays held until the handler settles. */
  handlerTimeoutMs?: number;
  /** How long a batch of verdicts waits for more to join it (0: the current event-loop turn). */
  resultGatherMs?: number;
  /** Sources whose events this worker must leave alone for now (open circuit breakers). */
  excludeSources?: () => string[];
  /** Per-handler circuit breakers: events of a handler whose breaker is open wait without spending attempts. */
  breakers?: CircuitBreakers;
}

/** How one attempt ended, as the sync receive path reports it. */
export interface AttemptSummary {
  outcome: AttemptResult['outcome'] | 'lease_lost' | 'write_failed';
  error?: string;
}

/** What the worker holds right now, for /healthz, /metrics and `hookbox health`. */
export interface WorkerStats {
  /** Events held (handlers running or waiting to record their verdict). */
  held: number;
  /** Held past their timeout: the attempt is recorded as failed, the handler has not settled. */
  stuck: number;
  /** Slots reserved by ingest for events it is claiming at this moment. */
  reserved: number;
}

/** Why an attempt's signal fired, so the error recorded says which. */
class AttemptAborted extends Error {
  constructor(
    readonly reason: 'timeout' | 'shutdown' | 'lease_lost' | 'lease_unconfirmed',
    message: string,
  ) {
    super(message);
  }
}

/** One claim this worker holds, from the claim until its handler settled and its verdict was written. */
interface Held {
  event: ClaimedEvent;
  claim: Claim;
  controller: AbortController;
  /** performance.now() until which the lease is known to hold: a renewal's send time plus the lease. */
  confirmedUntil: number;
  /** Another claim holds the event now (a renewal found it gone): any verdict will be dropped. */
  lost: boolean;
  /** Past the handler timeout: the verdict is decided and on record, the handler still runs. */
  timedOut: boolean;
  /** The verdict decided when it timed out, and its audit row being written. */
  timeoutVerdict?: AttemptResult;
  timeoutRecorded?: Promise<void>;
  /** Stop renewing (shutdown gave up waiting for this handler). */
  abandoned: boolean;
  /** The handler has been started (only then can a lost lease abort it). */
  started: boolean;
  /** Ordered events only: how many of its key's events in a row this slot has run, this one included. */
  turn: number;
  done: Promise<AttemptSummary>;
}

/**
 * A slot that finishes an ordered event may take its key's next event in the same commit
 * (docs/ordering.md): that saves the next event a promotion commit and a claim commit of its
 * own, and touches pages the verdict dirtied already. At most this many events of one key in a
 * row, then the slot goes back to the oldest-first claim, so busy keys cannot starve the others.
 */
export const MAX_TURNS_PER_SLOT = 10;

function refKey(ref: OrderingRef): string {
  return JSON.stringify([ref.source, ref.key]);
}

function keyOf(claim: Claim): string {
  return `${claim.eventId}#${claim.token}`;
}

/**
 * Claims due events in batches under a lease, runs their handlers with bounded concurrency, and
 * writes verdicts back in batches fenced by each claim's token (DESIGN invariants 3-5). An event
 * stays held, its lease renewed and its slot taken, until its handler's promise settles: a
 * timeout fails the attempt and fires the signal but never lets a second run start beside the
 * first.
 */
export class Worker {
  readonly workerId: string;
  readonly #o: Required<Omit<WorkerOptions, 'workerId' | 'excludeSources' | 'breakers'>> &
    Pick<WorkerOptions, 'excludeSources' | 'breakers'>;
  readonly #held = new Map<string, Held>();
  readonly #results: ResultWriter;
  #reserved = 0;
  /** Verdicts whose slot is reserved for their key's next event, with the turn they ended. */
  readonly #passingTurn = new Map<AttemptResult, number>();
  /** Held events whose handlers have settled and whose verdicts are being written. */
  #settling = 0;
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #wakeRequested = false;
  /**
   * Events may be waiting in the store for a free slot: set by every wake-up from outside (new
   * events nobody claimed at ingest, a reclaim, a requeue), cleared when a claim finds fewer
   * than it asked for with no wake-up meanwhile. A finished handler frees a slot, but only
   * claims again while this is set: with claim-at-ingest, most slots are refilled by ingest,
   * and an empty claim is a write transaction for nothing.
   */
  #mayHaveWork = true;
  #wakeUps = 0;
  #renewTimer: NodeJS.Timeout | null = null;
  /** Fires when the first held lease reaches its abort point (see #abortUnconfirmed). */
  #abortTimer: NodeJS.Timeout | null = null;
  #reclaimTimer: NodeJS.Timeout | null = null;
  #renewing: Promise<void> | null = null;
  #unsubscribe: (() => Promise<void>) | null = null;
  #subscribeTimer: NodeJS.Timeout | null = null;

  constructor(options: WorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.#o = {
      telemetry: noopTelemetry,
      leaseMs: 30_000,
      batchSize: 50,
      concurrency: 50,
      pollIntervalMs: 1_000,
      handlerTimeoutMs: 30_000,
      resultGatherMs: 0,
      ...options,
    };
    this.#results = new ResultWriter({
      write: (batch) => this.#writeVerdicts(batch),
      logger: this.#o.logger,
      gatherMs: this.#o.resultGatherMs,
    });
  }

  get running(): boolean {
    return this.#running;
  }

  get leaseMs(): number {
    return this.#o.leaseMs;
  }

  stats(): WorkerStats {
    let stuck = 0;
    for (const held of this.#held.values()) if (held.timedOut) stuck++;
    return { held: this.#held.size, stuck, reserved: this.#reserved };
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    // Handlers a previous stop() gave up on may still run: renew their leases again while they do.
    for (const held of this.#held.values()) held.abandoned = false;
    await this.#subscribe(500);
    this.#startRenewing();
    this.#reclaimTimer = setInterval(() => void this.#reclaimExpired(), Math.max(100, this.#o.leaseMs / 2));
    this.#reclaimTimer.unref();
    void this.#reclaimExpired();
    this.#loop = this.#runLoop();
  }

  /**
   * Subscribe to wake-ups. They only save waiting for the poll, so a store that refuses the
   * subscription (PostgreSQL out of connections, say) does not stop the worker from starting:
   * it polls, and tries again with a growing delay.
   */
  async #subscribe(retryMs: number): Promise<void> {
    try {
      const unsubscribe = await this.#o.store.onEventsRecorded(() => this.wake());
      if (this.#running && !this.#unsubscribe) this.#unsubscribe = unsubscribe;
      else await unsubscribe();
    } catch (error) {
      if (!this.#running) return;
      this.#o.logger.warn(
        { err: errorMessage(error), retryMs },
        'subscribing to new-event wake-ups failed; polling meanwhile, and trying again',
      );
      this.#subscribeTimer = setTimeout(() => {
        this.#subscribeTimer = null;
        if (this.#running) void this.#subscribe(Math.min(retryMs * 2, 30_000));
      }, retryMs);
      this.#subscribeTimer.unref();
    }
  }

  /** Ask an idle worker to look for events now. */
  wake(): void {
    this.#mayHaveWork = true;
    this.#wakeUps++;
    this.#wakeUpLoop();
  }

  #wakeUpLoop(): void {
    this.#wakeRequested = true;
    this.#wakeUp?.();
  }

  /**
   * Stop claiming and give held events `graceMs` to finish, renewing their leases all the while.
   * Then abort the rest; those whose handler settles soon after are released back to pending
   * (the attempt does not count). A handler that ignores its signal even then is left holding
   * its lease, which is no longer renewed: another worker takes the event once it expires, not
   * while this one may still run it.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.#running && this.#loop === null && this.#held.size === 0) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = null;
    if (!(await waitForSettled(this.#held, graceMs))) {
      for (const held of this.#held.values()) {
        held.controller.abort(new AttemptAborted('shutdown', 'worker shutting down'));
      }
      if (!(await waitForSettled(this.#held, Math.min(1_000, Math.max(100, graceMs / 10))))) {
        const ids: string[] = [];
        for (const held of this.#held.values()) {
          held.abandoned = true;
          ids.push(held.event.id);
        }
        this.#o.logger.warn(
          { eventIds: ids, leaseMs: this.#o.leaseMs },
          'handlers still running after shutdown was aborted: their leases are no longer renewed and expire within leaseMs, after which another worker retries them',
        );
      }
    }
    if (this.#reclaimTimer) clearInterval(this.#reclaimTimer);
    this.#reclaimTimer = null;
    this.#stopRenewing();
    await this.#renewing;
    await this.#results.flush();
    if (this.#subscribeTimer) clearTimeout(this.#subscribeTimer);
    this.#subscribeTimer = null;
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
      const { events, sentAt } = await this.#claim(this.#o.batchSize);
      if (events.length === 0) break;
      total += events.length;
      await Promise.all(events.map((event) => this.#launch(event, undefined, sentAt).done));
    }
    return total;
  }

  /**
   * Run the handlers of an event already claimed by this worker (sync mode) and write the
   * outcome before returning it. `payload` skips decoding the body a second time.
   */
  processClaimed(event: ClaimedEvent, payload?: unknown, sentAt?: number): Promise<AttemptSummary> {
    return this.#launch(event, payload, sentAt).done;
  }

  // ---- claim-at-ingest: ingest reserves slots, claims new events in its own commit, hands them over ----

  /** Reserve up to `count` slots for events ingest is about to claim; returns how many it got. */
  reserve(count: number): number {
    if (!this.#running || count <= 0) return 0;
    const free = this.#freeSlots();
    const granted = Math.max(0, Math.min(count, free));
    this.#reserved += granted;
    return granted;
  }

  /** Give back reserved slots ingest did not use (duplicates, a failed commit). */
  unreserve(count: number): void {
    this.#reserved = Math.max(0, this.#reserved - count);
    // Slots came back: claim with them only if work may be waiting in the store.
    if (count > 0 && this.#mayHaveWork) this.#wakeUpLoop();
  }

  /**
   * Run an event ingest claimed for this worker in the commit that recorded it; uses one reserved
   * slot. `sentAt` is performance.now() when that commit was sent: the lease is known to hold
   * until sentAt + leaseMs.
   */
  adopt(event: ClaimedEvent, payload: unknown, sentAt: number): void {
    this.#reserved = Math.max(0, this.#reserved - 1);
    this.#launch(event, payload, sentAt);
  }

  async #runLoop(): Promise<void> {
    // The first pass and every poll look in the store; wake-ups only while work may be waiting.
    let polled = true;
    while (this.#running) {
      const room = this.#freeSlots();
      // Consumed here, claim or not: a wake-up that finds nothing to do must not spin the loop.
      this.#wakeRequested = false;
      if (room > 0 && (polled || this.#mayHaveWork)) {
        const limit = Math.min(room, this.#o.batchSize);
        const wakeUps = this.#wakeUps;
        try {
          const { events, sentAt } = await this.#claim(limit);
          for (const event of events) this.#launch(event, undefined, sentAt);
          // A full batch means more may be due: claim again at once.
          if (events.length === limit) continue;
          if (this.#wakeUps === wakeUps) this.#mayHaveWork = false;
        } catch (error) {
          this.#o.logger.warn(
            { err: errorMessage(error) },
            'claiming events failed; retrying after the poll interval',
          );
        }
      }
      if (this.#running) polled = await this.#sleep(this.#o.pollIntervalMs);
    }
  }

  /**
   * Wait for a wake-up (new events, a freed slot) or the polling backstop; resolves true when
   * the backstop fired.
   */
  #sleep(ms: number): Promise<boolean> {
    if (this.#wakeRequested && this.#freeSlots() > 0) {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve(timedOut);
      };
      const timer = setTimeout(() => finish(true), ms);
      this.#wakeUp = () => finish(false);
    });
  }

  /** Claim a batch; `sentAt` (performance.now() before the claim went out) bounds when its leases end. */
  async #claim(limit: number): Promise<{ events: ClaimedEvent[]; sentAt: number }> {
    const sentAt = performance.now();
    const events = await this.#o.store.claimEvents({
      workerId: this.workerId,
      limit,
      leaseMs: this.#o.leaseMs,
      excludeSources: this.#o.excludeSources?.(),
    });
    return { events, sentAt };
  }

  /**
   * Hold a claimed event and run its attempt; `sentAt` is when its claim was sent (default now).
   * `turn` counts a key's events this slot ran in a row; `release` gives the claim back unrun
   * (a key's next event that reached a worker already stopping).
   */
  #launch(
    event: ClaimedEvent,
    payload: unknown,
    sentAt = performance.now(),
    turn = 1,
    release = false,
  ): Held {
    // An ordered event's verdict promotes its key's next head (docs/ordering.md).
    const claim: Claim = {
      eventId: event.id,
      token: event.claimToken,
      ...(event.orderingKey !== undefined
        ? { ordering: { source: event.source, key: event.orderingKey } }
        : {}),
    };
    const key = keyOf(claim);
    // An earlier claim of this event may still be running here: its lease ran out (the store did
    // not answer) and this worker claimed the event again. The new claim holds the event, so no
    // other worker takes it, and its handler starts only once the earlier run has settled.
    let earlier: Held | undefined;
    for (const other of this.#held.values()) if (other.event.id === event.id) earlier = other;
    const held: Held = {
      event,
      claim,
      controller: new AbortController(),
      confirmedUntil: sentAt + this.#o.leaseMs,
      lost: false,
      timedOut: false,
      abandoned: false,
      started: false,
      turn,
      done: Promise.resolve({ outcome: 'released' }),
    };
    if (release) held.controller.abort(new AttemptAborted('shutdown', 'worker shutting down'));
    this.#held.set(key, held);
    // Renewal runs whenever something is held, started or not (sync mode, processDue).
    if (!this.#renewTimer) this.#startRenewing();
    this.#armAbortTimer();
    held.done = this.#startAttempt(held, earlier, payload)
      .catch((error): AttemptSummary => {
        this.#o.logger.error(
          { eventId: event.id, err: errorMessage(error) },
          'an attempt failed unexpectedly',
        );
        return { outcome: 'write_failed', error: errorMessage(error) };
      })
      .finally(() => {
        this.#held.delete(key);
        if (this.#running) {
          if (this.#mayHaveWork) this.#wakeUpLoop();
        } else if (this.#held.size === 0) this.#stopRenewing();
      });
    return held;
  }

  /**
   * Start the handler once it is safe to: after an earlier run of the event in this worker has
   * settled, and with more than a third of the lease known to be left. A claim whose answer came
   * late (a loaded database) may already be inside its last third: it is renewed first instead
   * of being aborted as it starts. Stopped, lost or unconfirmed before its handler started,
   * nothing ran, and the event is released (the attempt given back).
   */
  async #startAttempt(held: Held, earlier: Held | undefined, payload: unknown): Promise<AttemptSummary> {
    if (earlier) {
      this.#o.logger.warn(
        { eventId: held.event.id, claimToken: held.claim.token, earlierToken: earlier.claim.token },
        'an earlier run of this event is still going in this worker; the new claim waits for it to settle',
      );
      await earlier.done;
    }
    if (!held.controller.signal.aborted && this.#inLastThird(held)) await this.#confirmLease(held);
    if (held.controller.signal.aborted || held.lost || this.#inLastThird(held)) {
      const now = this.#o.clock.now();
      return this.#conclude(held, { ...held.claim, outcome: 'released', startedAt: now, finishedAt: now });
    }
    held.started = true;
    this.#armAbortTimer();
    return this.#attempt(held, payload);
  }

  #inLastThird(held: Held): boolean {
    return held.confirmedUntil - this.#o.leaseMs / 3 <= performance.now();
  }

  /** Renew one claim's lease now (before its handler starts). */
  async #confirmLease(held: Held): Promise<void> {
    const sentAt = performance.now();
    try {
      const kept = await this.#o.store.extendLeases([held.claim], this.#o.leaseMs);
      if (kept.length > 0) held.confirmedUntil = Math.max(held.confirmedUntil, sentAt + this.#o.leaseMs);
      else held.lost = true;
    } catch (error) {
      this.#o.logger.warn(
        { eventId: held.event.id, err: errorMessage(error) },
        'renewing a late claim before its handler starts failed; the event is released',
      );
    }
  }

  #attempt(held: Held, payload: unknown): Promise<AttemptSummary> {
    const { event } = held;
    return withSpan(
      'hookbox.attempt',
      {
        'hookbox.source': event.source,
        'hookbox.event_type': event.eventType,
        'hookbox.event_id': event.id,
        'hookbox.attempt': event.attempts,
      },
      (span) => this.#runAttempt(held, payload, span),
    );
  }

  async #runAttempt(held: Held, givenPayload: unknown, span: Span): Promise<AttemptSummary> {
    const { clock, logger, handlers, store } = this.#o;
    const { event, claim, controller } = held;
    const startedAt = clock.now();
    const found = handlers.findRegistrations(event.source, event.eventType);
    if (found.length === 0) {
      span.setAttribute('hookbox.outcome', 'ignored');
      this.#o.telemetry.attemptFinished(event.source, 'ignored', 0);
      return this.#conclude(held, { ...claim, outcome: 'ignored', startedAt, finishedAt: startedAt });
    }
    const breakers = this.#o.breakers;
    const admission = breakers?.admit(found.map((r) => r.key)) ?? { allowed: true as const, trials: [] };
    if (!admission.allowed) {
      // An open breaker: hand the event back, due when the breaker allows a try; the attempt does not count.
      const reason = `circuit breaker open for ${admission.blockedBy.join(', ')}; waiting until ${new Date(admission.retryAt).toISOString()}`;
      span.setAttribute('hookbox.outcome', 'released');
      return this.#conclude(held, {
        ...claim,
        outcome: 'released',
        startedAt,
        finishedAt: startedAt,
        retryDelayMs: Math.max(0, admission.retryAt - startedAt),
        error: reason,
      });
    }
    const trials = new Set(admission.trials);
    // Made on first use: most handlers never log, and a child logger per attempt is not free.
    let childLogger: Logger | undefined;
    const attemptLogger = () =>
      (childLogger ??= logger.child({ eventId: event.id, source: event.source, attempt: event.attempts }));
    const tx = await store.beginEventTransaction();
    const timer = setTimeout(() => this.#timeOut(held, startedAt), this.#o.handlerTimeoutMs);
    let failure: unknown = null;
    // Which registration ran last, so a failure is charged to its breaker and no other.
    let running = -1;
    try {
      const payload = givenPayload === undefined ? this.#o.decodePayload(event) : givenPayload;
      for (const { handler } of found) {
        running++;
        // Awaited to the end even after an abort: the event stays held until the handler settles.
        await handler({
          event,
          payload,
          attempt: event.attempts,
          get logger() {
            return attemptLogger();
          },
          signal: controller.signal,
          tx: tx ? guardAfterAbort(tx.handle, controller.signal) : undefined,
        });
        if (controller.signal.aborted) break;
      }
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(timer);
    }

    const finishedAt = clock.now();
    const durationMs = finishedAt - startedAt;
    const aborted = controller.signal.aborted ? (controller.signal.reason as unknown) : null;
    const cause = aborted ?? failure;
    if (breakers) concludeBreakers(breakers, found, trials, running, cause);

    if (cause === null) {
      span.setAttribute('hookbox.outcome', 'processed');
      this.#o.telemetry.attemptFinished(event.source, 'processed', durationMs);
      const result: AttemptResult = { ...claim, outcome: 'processed', startedAt, finishedAt };
      if (tx?.used) {
        const kept = await tx.commitWith(this.workerId, result);
        if (!kept)
          attemptLogger().warn('the claim was lost before commit; the handler transaction was rolled back');
        return { outcome: kept ? 'processed' : 'lease_lost' };
      }
      await tx?.rollback();
      return this.#conclude(held, result);
    }

    await tx?.rollback();
    if (held.timeoutVerdict) {
      // The attempt was decided and recorded when it timed out; now the handler has settled,
      // the event is let go with that verdict.
      await held.timeoutRecorded;
      span.setAttribute('hookbox.outcome', held.timeoutVerdict.outcome);
      return this.#conclude(held, held.timeoutVerdict);
    }
    if (aborted instanceof AttemptAborted && aborted.reason === 'shutdown') {
      span.setAttribute('hookbox.outcome', 'released');
      return this.#conclude(held, { ...claim, outcome: 'released', startedAt, finishedAt });
    }
    const message = auditMessage(cause);
    const decision = decideAfterFailure(this.#o.retryPolicy, event.attempts, this.#o.random);
    span.setAttribute('hookbox.outcome', decision.outcome);
    this.#o.telemetry.attemptFinished(event.source, decision.outcome, durationMs);
    attemptLogger().warn({ err: message, outcome: decision.outcome }, 'handler failed');
    return this.#conclude(held, {
      ...claim,
      outcome: decision.outcome,
      startedAt,
      finishedAt,
      error: message,
      ...(decision.outcome === 'failed' ? { retryDelayMs: decision.retryDelayMs } : {}),
    });
  }

  /**
   * The handler ran out of time: decide the attempt now (failed, or dead at the budget), put it on
   * record, fire the signal, and keep holding the event until the handler actually settles.
   */
  #timeOut(held: Held, startedAt: number): void {
    if (held.controller.signal.aborted) return;
    const { clock, retryPolicy, random } = this.#o;
    const finishedAt = clock.now();
    const error = `handler timed out after ${this.#o.handlerTimeoutMs} ms`;
    const decision = decideAfterFailure(retryPolicy, held.event.attempts, random);
    const verdict: AttemptResult = {
      ...held.claim,
      outcome: decision.outcome,
      startedAt,
      finishedAt,
      error,
      ...(decision.outcome === 'failed' ? { retryDelayMs: decision.retryDelayMs } : {}),
    };
    held.timedOut = true;
    held.timeoutVerdict = verdict;
    held.controller.abort(new AttemptAborted('timeout', error));
    this.#o.telemetry.attemptFinished(held.event.source, decision.outcome, finishedAt - startedAt);
    this.#o.logger.warn(
      { eventId: held.event.id, outcome: decision.outcome },
      'handler timed out; the event stays held until the handler settles',
    );
    held.timeoutRecorded = this.#o.store
      .recordAttempts(this.workerId, [
        { ...held.claim, outcome: decision.outcome, startedAt, finishedAt, error },
      ])
      .then(
        (applied) => {
          if (applied.length > 0) verdict.alreadyRecorded = true;
        },
        (cause: unknown) => {
          this.#o.logger.warn(
            { eventId: held.event.id, err: errorMessage(cause) },
            'recording the timed-out attempt failed; it is recorded with the verdict once the handler settles',
          );
        },
      );
  }

  /**
   * Slots for new events. A slot is a running handler: an event whose handler has settled and
   * whose verdict is being written stays held (its lease renewed) but leaves its slot to the next
   * event, as long as no more events wait for their verdicts than there are slots. Counting
   * them as running made ingest's claim miss a third of new events under load, and each miss
   * cost a claim transaction of its own.
   */
  #freeSlots(): number {
    const { concurrency } = this.#o;
    const running = this.#held.size - this.#settling;
    return Math.min(concurrency - running, 2 * concurrency - this.#held.size) - this.#reserved;
  }

  /** Write the verdict and report how the attempt ended. */
  async #conclude(held: Held, result: AttemptResult): Promise<AttemptSummary> {
    let applied: boolean;
    if (this.#passesTurn(held, result)) {
      this.#reserved++;
      this.#passingTurn.set(result, held.turn);
    }
    this.#settling++;
    if (this.#running && this.#mayHaveWork) this.#wakeUpLoop();
    try {
      applied = await this.#results.write(result);
    } catch (error) {
      // The handler has settled, so letting the event go cannot make two runs overlap: its lease
      // expires and it is retried then.
      this.#o.logger.error(
        { eventId: result.eventId, err: errorMessage(error) },
        'writing the verdict failed; the lease will expire and the event will be retried',
      );
      return { outcome: 'write_failed', error: errorMessage(error) };
    } finally {
      this.#settling--;
    }
    if (!applied) {
      this.#o.logger.warn(
        { eventId: result.eventId, claimToken: result.token, outcome: result.outcome, lost: held.lost },
        'stale verdict dropped: this claim no longer holds the event',
      );
      return { outcome: 'lease_lost' };
    }
    return { outcome: result.outcome, ...(result.error ? { error: result.error } : {}) };
  }

  /**
   * Whether this verdict may free its key for a next event this slot then runs: an ordered event
   * leaving the key (a failed one keeps it, as its retry is the head), within the slot's turns,
   * on a store that claims in a verdict's commit (WorkerStore.finishAttemptsAndClaimNext).
   */
  #passesTurn(held: Held, result: AttemptResult): boolean {
    return (
      this.#running &&
      this.#o.store.finishAttemptsAndClaimNext !== undefined &&
      result.ordering !== undefined &&
      !held.lost &&
      held.turn < MAX_TURNS_PER_SLOT &&
      (result.outcome === 'processed' || result.outcome === 'ignored' || result.outcome === 'dead')
    );
  }

  /**
   * One batched verdict write. Slots #conclude reserved for keys' next events are offered to the
   * store in the same commit (finishAttemptsAndClaimNext), and given back whatever it does.
   */
  async #writeVerdicts(batch: AttemptResult[]): Promise<Claim[]> {
    // One reserved slot per key passing its turn.
    const turns = new Map<string, number>();
    const keys: OrderingRef[] = [];
    for (const result of batch) {
      const turn = this.#passingTurn.get(result);
      if (turn === undefined || !result.ordering) continue;
      this.#passingTurn.delete(result);
      keys.push(result.ordering);
      turns.set(refKey(result.ordering), turn);
    }
    const { store, leaseMs, excludeSources } = this.#o;
    const sentAt = performance.now();
    let claimed: ClaimedEvent[] = [];
    try {
      if (keys.length === 0 || !store.finishAttemptsAndClaimNext)
        return await store.finishAttempts(this.workerId, batch);
      const next = this.#running ? { keys, leaseMs, excludeSources: excludeSources?.() } : null;
      const finished = await store.finishAttemptsAndClaimNext(this.workerId, batch, next);
      claimed = finished.claimed;
      return finished.applied;
    } finally {
      // The events taken use their slots; the others go back as ingest gives back its unused ones.
      this.#reserved = Math.max(0, this.#reserved - claimed.length);
      for (const event of claimed) {
        const turn = (turns.get(refKey({ source: event.source, key: event.orderingKey ?? '' })) ?? 0) + 1;
        this.#launch(event, undefined, sentAt, turn, !this.#running);
      }
      this.unreserve(keys.length - claimed.length);
    }
  }

  /**
   * Renew every quarter lease. A handler is aborted when only a third of its lease is left
   * unconfirmed (#abortUnconfirmed), so by then two renewals in a row have failed or hung.
   */
  #startRenewing(): void {
    if (this.#renewTimer) return;
    this.#renewTimer = setInterval(
      () => {
        this.#renewing ??= this.#renewLeases().finally(() => {
          this.#renewing = null;
        });
      },
      Math.max(25, this.#o.leaseMs / 4),
    );
    this.#renewTimer.unref();
  }

  #stopRenewing(): void {
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    this.#renewTimer = null;
    if (this.#abortTimer) clearTimeout(this.#abortTimer);
    this.#abortTimer = null;
  }

  /**
   * Renew every held lease (timed-out handlers included: they still run). A claim the store no
   * longer knows was lost: its signal fires and its verdict will be dropped.
   */
  async #renewLeases(): Promise<void> {
    const renewable = [...this.#held.values()].filter((h) => !h.lost && !h.abandoned);
    if (renewable.length === 0) return;
    const sentAt = performance.now();
    try {
      const kept = new Set(
        (
          await this.#o.store.extendLeases(
            renewable.map((h) => h.claim),
            this.#o.leaseMs,
          )
        ).map(keyOf),
      );
      for (const held of renewable) {
        if (kept.has(keyOf(held.claim))) {
          held.confirmedUntil = Math.max(held.confirmedUntil, sentAt + this.#o.leaseMs);
        } else if (!held.lost) {
          held.lost = true;
          held.controller.abort(
            new AttemptAborted('lease_lost', 'the lease was lost: this claim no longer holds the event'),
          );
        }
      }
      this.#armAbortTimer();
    } catch (error) {
      this.#o.logger.warn({ err: errorMessage(error), held: renewable.length }, 'extending leases failed');
    }
  }

  #mayAbort(held: Held): boolean {
    return held.started && !held.controller.signal.aborted && !held.abandoned;
  }

  /**
   * One timer, for the earliest abort point among held leases. A timer of its own, not a check
   * on the renewal tick: a tick may come up to a whole interval after the abort point, by which
   * time the lease may be gone.
   */
  #armAbortTimer(): void {
    if (this.#abortTimer) clearTimeout(this.#abortTimer);
    this.#abortTimer = null;
    let earliest = Number.POSITIVE_INFINITY;
    for (const held of this.#held.values()) {
      if (this.#mayAbort(held)) earliest = Math.min(earliest, held.confirmedUntil - this.#o.leaseMs / 3);
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#abortTimer = setTimeout(
      () => {
        this.#abortTimer = null;
        this.#abortUnconfirmed();
        this.#armAbortTimer();
      },
      Math.max(0, earliest - performance.now()),
    );
    this.#abortTimer.unref();
  }

  /**
   * Abort handlers whose lease has only a third left with no renewal confirmed (the store is not
   * answering): a handler that honours its signal then stops while the lease still holds, before
   * another worker may take the event.
   */
  #abortUnconfirmed(): void {
    // A timer may fire a millisecond early.
    const now = performance.now() + 1;
    for (const held of this.#held.values()) {
      if (this.#mayAbort(held) && held.confirmedUntil - this.#o.leaseMs / 3 <= now) {
        this.#o.logger.warn(
          { eventId: held.event.id, claimToken: held.claim.token },
          'the lease could not be renewed and a third of it is left: aborting the handler',
        );
        held.controller.abort(
          new AttemptAborted(
            'lease_unconfirmed',
            'the lease could not be renewed (the store is not answering) and is about to expire',
          ),
        );
      }
    }
  }

  async #reclaimExpired(): Promise<void> {
    try {
      const ids = await reclaimExpiredLeases(this.#o.store, this.#o.retryPolicy, this.#o.random);
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
 * A handler's error as the audit trail and the admin API show it: card numbers masked, and NUL
 * characters (which PostgreSQL cannot store in text, so one would make the whole batch of
 * verdicts unwritable) replaced by U+FFFD on both engines alike.
 */
function auditMessage(cause: unknown): string {
  return maskCardNumbers(errorMessage(cause)).replaceAll('\u0000', '\ufffd');
}

/**
 * After the signal fires the handler's writes cannot commit any more (the attempt failed or the
 * claim is gone), so a handler still writing gets an error saying so instead of writing into a
 * transaction that will be rolled back.
 */
function guardAfterAbort(handle: TransactionHandle, signal: AbortSignal): TransactionHandle {
  return {
    query(sql, params) {
      if (signal.aborted) {
        return Promise.reject(
          new Error(
            `this attempt was aborted (${errorMessage(signal.reason)}): its transaction will be rolled back, so no more writes go through it`,
          ),
        );
      }
      return handle.query(sql, params);
    },
  };
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
  const chargeable = failure !== null && !(failure instanceof AttemptAborted && failure.reason !== 'timeout');
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
