/**
 * The delivery worker: claims due deliveries per destination under a lease, attempts each one
 * (deliver.ts, through the destination's concurrency and rate limits), and writes every verdict
 * fenced by its claim token (next-attempt.ts decides retry time, dead or disable). Started and
 * stopped with the event worker (hookbox.ts).
 *
 * Each destination has its own capacity (`concurrency`): a claim asks each destination for at
 * most its free slots, so a destination that is slow, failing or backed up never takes the
 * slots or the claims of another. Leases are renewed while attempts run; expired leases of a
 * crashed process are reclaimed; stop() renews through the grace period, then aborts what still
 * runs and releases it (the attempt does not count).
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Random } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ClaimedDelivery, DeliveryClaim, DeliveryResult, DeliveryStore } from '../store/types.ts';
import { waitForSettled } from '../worker/wait-for-settled.ts';
import { deliverOnce } from './deliver.ts';
import type { DestinationHttpClient } from './http-client.ts';
import { decideNextStep } from './next-attempt.ts';
import type { Destination } from './settings.ts';

export interface DeliveryWorkerOptions {
  store: DeliveryStore;
  /** Every configured destination (of every source). */
  destinations: readonly Destination[];
  client: DestinationHttpClient;
  clock: Clock;
  random: Random;
  logger: Logger;
  workerId?: string;
  /** How long a claim holds a delivery; renewed every third of it while the attempt runs. Default 30 s. */
  leaseMs?: number;
  /** The polling backstop when no wake-up arrives (retries that came due). Default 1 s. */
  pollIntervalMs?: number;
  /** Deliveries claimed per destination per query at most. Default 50. */
  batchSize?: number;
  /** How long a verdict waits for others still being attempted to share its write. Default 2 ms. */
  gatherMs?: number;
  /** How often delivering events are checked for a settled status (settleDeliveringEvents). Default 5 s. */
  settleIntervalMs?: number;
  /** How long after a delivery succeeded or died its event is checked again (settleEvents). Default 1 s. */
  settleDelayMs?: number;
  /**
   * Told about every attempt whose verdict was written (metrics per destination hook in here);
   * an error it throws is logged and ignored.
   */
  observe?: (attempt: ObservedAttempt) => void;
}

/** One attempt as the delivery worker reports it to `observe`. */
export interface ObservedAttempt {
  /** `source/name`. */
  destination: string;
  outcome: DeliveryResult['outcome'];
  durationMs: number;
  statusCode: number | null;
  errorCode: string | null;
}

/** What the delivery worker holds now, per destination key. */
export interface DeliveryWorkerStats {
  held: number;
  byDestination: Record<string, number>;
}

interface Held {
  delivery: ClaimedDelivery;
  claim: DeliveryClaim;
  destination: Destination;
  controller: AbortController;
  lost: boolean;
  /** Out of the limits' queue: being sent, so only shutdown or a lost lease may cut it off. */
  started: boolean;
  done: Promise<void>;
}

class DeliveryAborted extends Error {}

/** A verdict waiting for its write; told whether its claim still held the delivery. */
interface PendingWrite {
  result: DeliveryResult;
  resolve: (applied: boolean) => void;
  reject: (e: unknown) => void;
}

export class DeliveryWorker {
  readonly workerId: string;
  readonly #o: Required<Omit<DeliveryWorkerOptions, 'workerId' | 'observe'>> &
    Pick<DeliveryWorkerOptions, 'observe'>;
  readonly #byKey = new Map<string, Destination>();
  readonly #held = new Map<number, Held>();
  readonly #heldPerDestination = new Map<string, number>();
  /** Delivery id -> event id, for the deliveries whose verdict is being written. */
  readonly #eventOf = new Map<number, string>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #wakeRequested = false;
  #mayHaveWork = true;
  #wakeUps = 0;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => Promise<void>) | null = null;
  #renewing: Promise<void> | null = null;
  #settleCursor = '';
  #pendingWrites: PendingWrite[] = [];
  /** Verdicts in writes under way. */
  #writing = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushQueued = false;

  constructor(options: DeliveryWorkerOptions) {
    this.workerId = options.workerId ?? `delivery-${randomUUID().slice(0, 8)}`;
    this.#o = {
      leaseMs: 30_000,
      pollIntervalMs: 1_000,
      batchSize: 50,
      gatherMs: 2,
      settleIntervalMs: 5_000,
      settleDelayMs: 1_000,
      ...options,
    };
    for (const destination of options.destinations) this.#byKey.set(destination.key, destination);
  }

  get running(): boolean {
    return this.#running;
  }

  stats(): DeliveryWorkerStats {
    return { held: this.#held.size, byDestination: Object.fromEntries(this.#heldPerDestination) };
  }

  async start(): Promise<void> {
    if (this.#running || this.#byKey.size === 0) return;
    this.#running = true;
    try {
      this.#unsubscribe = await this.#o.store.onDeliveriesDue(() => this.wake());
    } catch (error) {
      // Wake-ups only save waiting for the poll.
      this.#o.logger.warn({ err: errorMessage(error) }, 'delivery worker: no wake-ups, polling only');
    }
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => void task(), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.max(25, this.#o.leaseMs / 3), () => this.#renewOnce());
    every(Math.max(100, this.#o.leaseMs / 2), () => this.#reclaimExpired());
    every(this.#o.settleIntervalMs, () => this.#settle());
    void this.#reclaimExpired();
    void this.#warnAboutUnconfigured();
    this.#loop = this.#runLoop();
  }

  /**
   * Let go of the deliveries of `destinationKey` (`source/name`) claimed ahead and not started
   * (a pause in this process, a 410): they are released unsent, the attempt not counted, and
   * wait in the store like the rest. Those being sent finish. Returns how many.
   */
  releaseWaiting(destinationKey: string): number {
    let released = 0;
    for (const held of this.#held.values()) {
      if (held.destination.key !== destinationKey || held.started || held.lost) continue;
      held.controller.abort(new DeliveryAborted(`destination ${destinationKey} stopped taking deliveries`));
      released++;
    }
    return released;
  }

  /** Ask an idle worker to look for deliveries now. */
  wake(): void {
    this.#mayHaveWork = true;
    this.#wakeUps++;
    this.#wakeRequested = true;
    this.#wakeUp?.();
  }

  /**
   * Stop claiming; give running attempts `graceMs` to finish (their leases renewed meanwhile),
   * then abort the rest: they are released, due again at once, the attempt not counted.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.#running && this.#loop === null) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = null;
    if (!(await waitForSettled(this.#held, graceMs))) {
      for (const held of this.#held.values()) held.controller.abort(new DeliveryAborted('shutting down'));
      await waitForSettled(this.#held, Math.min(2_000, Math.max(200, graceMs / 5)));
    }
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#renewing;
    await this.#unsubscribe?.().catch(() => {});
    this.#unsubscribe = null;
  }

  /**
   * Claim and attempt due deliveries until none is left (tests, one-shot jobs); returns how many
   * attempts ran. A started worker does this continuously.
   */
  async processDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.#claim();
      if (claimed.length === 0) break;
      total += claimed.length;
      await Promise.all(claimed.map((delivery) => this.#launch(delivery).done));
    }
    return total;
  }

  async #runLoop(): Promise<void> {
    let polled = true;
    while (this.#running) {
      this.#wakeRequested = false;
      if (polled || this.#mayHaveWork) {
        const wakeUps = this.#wakeUps;
        try {
          const { claimed, full } = await this.#claimRound();
          for (const delivery of claimed) this.#launch(delivery);
          // A destination that got all it asked for may have more due: claim again once a slot frees.
          if (!full && this.#wakeUps === wakeUps) this.#mayHaveWork = false;
        } catch (error) {
          this.#o.logger.warn(
            { err: errorMessage(error) },
            'claiming deliveries failed; retrying after the poll interval',
          );
        }
      }
      if (this.#running) polled = await this.#sleep(this.#o.pollIntervalMs);
    }
  }

  #sleep(ms: number): Promise<boolean> {
    if (this.#wakeRequested) return Promise.resolve(false);
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

  /**
   * What to claim of each destination. A destination holds up to its concurrency running plus,
   * without a rate limit, as many again claimed ahead, waiting in its limits' queue (in claim
   * order, under lease): a slot that frees starts the next at once, without a store round trip.
   * With an idle slot it claims at once; with every slot busy it tops the queue up only once
   * half of it has drained, so claims (and with them verdicts) come in batches, not one by one.
   */
  #wanted() {
    const wanted: { source: string; name: string; limit: number }[] = [];
    // A destination left out only until its queue drains may have more due.
    let deferred = false;
    for (const destination of this.#byKey.values()) {
      const held = this.#heldPerDestination.get(destination.key) ?? 0;
      const ahead = destination.ratePerSecond === undefined ? destination.concurrency : 0;
      const free = destination.concurrency + ahead - held;
      if (free <= 0) continue;
      if (held >= destination.concurrency && free < Math.ceil(ahead / 2)) {
        deferred = true;
        continue;
      }
      wanted.push({
        source: destination.source,
        name: destination.name,
        limit: Math.min(free, this.#o.batchSize),
      });
    }
    return { wanted, deferred };
  }

  async #claimRound(): Promise<{ claimed: ClaimedDelivery[]; full: boolean }> {
    const { wanted, deferred } = this.#wanted();
    if (wanted.length === 0) return { claimed: [], full: true };
    const claimed = await this.#o.store.claimDeliveries({
      workerId: this.workerId,
      leaseMs: this.#o.leaseMs,
      destinations: wanted,
    });
    const got = new Map<string, number>();
    for (const d of claimed)
      got.set(`${d.source}/${d.destination}`, (got.get(`${d.source}/${d.destination}`) ?? 0) + 1);
    const full = deferred || wanted.some((w) => (got.get(`${w.source}/${w.name}`) ?? 0) >= w.limit);
    return { claimed, full };
  }

  async #claim(): Promise<ClaimedDelivery[]> {
    return (await this.#claimRound()).claimed;
  }

  #launch(delivery: ClaimedDelivery): Held {
    const key = `${delivery.source}/${delivery.destination}`;
    const destination = this.#byKey.get(key)!;
    const held: Held = {
      delivery,
      claim: { deliveryId: delivery.id, token: delivery.claimToken },
      destination,
      controller: new AbortController(),
      lost: false,
      started: false,
      done: Promise.resolve(),
    };
    this.#held.set(delivery.id, held);
    this.#heldPerDestination.set(key, (this.#heldPerDestination.get(key) ?? 0) + 1);
    held.done = this.#attempt(held)
      .catch((error: unknown) => {
        this.#o.logger.error(
          { deliveryId: delivery.id, err: errorMessage(error) },
          'a delivery attempt failed unexpectedly; its lease will expire and it will be retried',
        );
      })
      .finally(() => {
        this.#held.delete(delivery.id);
        const left = (this.#heldPerDestination.get(key) ?? 1) - 1;
        if (left > 0) this.#heldPerDestination.set(key, left);
        else this.#heldPerDestination.delete(key);
        // A slot came free: claim again if more may be due.
        if (this.#running && this.#mayHaveWork) {
          this.#wakeRequested = true;
          this.#wakeUp?.();
        }
      });
    return held;
  }

  async #attempt(held: Held): Promise<void> {
    const { delivery, destination, controller, claim } = held;
    const { clock, random, logger } = this.#o;
    let result: Awaited<ReturnType<typeof deliverOnce>>;
    try {
      result = await deliverOnce(this.#o.client, destination, {
        eventId: delivery.eventId,
        source: delivery.source,
        eventType: delivery.eventType,
        attempt: delivery.attempts,
        body: delivery.body,
        contentType: findContentType(delivery.headers),
        receivedHeaders: delivery.headers,
        signal: controller.signal,
        onStart: () => {
          held.started = true;
        },
      });
    } catch {
      // Aborted while it waited for the destination's limits (shutdown, a lost lease): nothing was sent.
      await this.#write({ ...claim, outcome: 'released' });
      return;
    }
    if (held.lost) return;
    if (result.errorCode === 'aborted') {
      // Cut off by shutdown: the endpoint may or may not have it; it goes again, the attempt not counted.
      await this.#write({ ...claim, outcome: 'released' });
      return;
    }
    const step = decideNextStep(destination, delivery.attempts, result, clock.now(), random);
    const attempt = {
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      responseExcerpt: result.responseExcerpt,
      errorCode: result.errorCode,
      error: result.error,
    };
    const verdict: DeliveryResult =
      step.outcome === 'retry'
        ? { ...claim, outcome: 'failed', attempt, retryDelayMs: step.delayMs }
        : step.outcome === 'disable'
          ? { ...claim, outcome: 'disabled', attempt }
          : { ...claim, outcome: step.outcome, attempt };
    if (delivery.orderingKey !== null)
      verdict.ordering = { source: delivery.source, key: delivery.orderingKey };
    this.#eventOf.set(delivery.id, delivery.eventId);
    const applied = await this.#write(verdict).finally(() => this.#eventOf.delete(delivery.id));
    if (applied && this.#o.observe) {
      try {
        this.#o.observe({
          destination: destination.key,
          outcome: verdict.outcome,
          durationMs: result.durationMs,
          statusCode: result.statusCode,
          errorCode: result.errorCode,
        });
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'a delivery attempt observer failed');
      }
    }
    if (!applied) {
      logger.warn(
        { deliveryId: delivery.id, destination: destination.key },
        'stale delivery verdict dropped: this claim no longer holds the delivery',
      );
      return;
    }
    if (step.outcome === 'disable') {
      this.releaseWaiting(destination.key);
      logger.warn(
        { destination: destination.key, deliveryId: delivery.id },
        'destination answered 410 Gone: it is disabled, and its deliveries wait until it is enabled again',
      );
    } else if (step.outcome === 'dead') {
      logger.warn(
        {
          destination: destination.key,
          deliveryId: delivery.id,
          eventId: delivery.eventId,
          error: result.error,
        },
        'delivery is dead: out of attempts',
      );
    }
  }

  /**
   * Verdicts share writes: one is written at once when no other held delivery could join it,
   * otherwise it waits up to `gatherMs` for the verdicts of the others, so a busy worker commits
   * a batch per few milliseconds instead of one per response. A failing write is tried again.
   */
  #write(result: DeliveryResult): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pendingWrites.push({ result, resolve, reject });
      const stillAttempting = this.#held.size - this.#pendingWrites.length - this.#writing;
      if (stillAttempting <= 0) this.#scheduleFlush(0);
      else if (this.#pendingWrites.length === 1) this.#scheduleFlush(this.#o.gatherMs);
    });
  }

  #scheduleFlush(ms: number): void {
    // A flush already queued for this turn takes everything pending when it runs.
    if (this.#flushQueued) return;
    if (ms > 0) {
      this.#flushTimer ??= setTimeout(() => {
        this.#flushTimer = null;
        void this.#flushWrites();
      }, ms);
      return;
    }
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      void this.#flushWrites();
    });
  }

  async #flushWrites(): Promise<void> {
    const batch = this.#pendingWrites;
    this.#pendingWrites = [];
    if (batch.length === 0) return;
    this.#writing += batch.length;
    try {
      await this.#writeBatch(batch);
    } finally {
      this.#writing -= batch.length;
    }
  }

  async #writeBatch(batch: PendingWrite[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const applied = new Set(
          (
            await this.#o.store.finishDeliveries(
              this.workerId,
              batch.map((p) => p.result),
            )
          ).map((c) => `${c.deliveryId}#${c.token}`),
        );
        for (const p of batch) p.resolve(applied.has(`${p.result.deliveryId}#${p.result.token}`));
        this.#settleSoon(
          batch.filter((p) => p.result.outcome === 'succeeded' || p.result.outcome === 'dead'),
        );
        return;
      } catch (error) {
        if (attempt >= 5) {
          for (const p of batch) p.reject(error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * On PostgreSQL a verdict here and another process's (the handlers', or another delivery of the
   * same event) can each miss the other's commit and leave the event delivering: look at these
   * events again a little later, when both have committed. SQLite has one writer at a time and
   * each verdict settles its event in its own transaction: nothing to look at again.
   */
  #settleSoon(finished: { result: DeliveryResult }[]): void {
    if (this.#o.store.engine === 'sqlite') return;
    const ids = finished
      .map((p) => this.#eventOf.get(p.result.deliveryId))
      .filter((id): id is string => !!id);
    if (ids.length === 0) return;
    const timer = setTimeout(() => {
      this.#o.store.settleEvents(ids).catch((error: unknown) => {
        this.#o.logger.warn(
          { err: errorMessage(error) },
          'settling events after their deliveries failed; the sweep will',
        );
      });
    }, this.#o.settleDelayMs);
    timer.unref();
  }

  async #renewOnce(): Promise<void> {
    this.#renewing ??= this.#renewLeases().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  async #renewLeases(): Promise<void> {
    const renewable = [...this.#held.values()].filter((h) => !h.lost);
    if (renewable.length === 0) return;
    try {
      const kept = new Set(
        (
          await this.#o.store.extendDeliveryLeases(
            renewable.map((h) => h.claim),
            this.#o.leaseMs,
          )
        ).map((c) => `${c.deliveryId}#${c.token}`),
      );
      for (const held of renewable) {
        if (kept.has(`${held.claim.deliveryId}#${held.claim.token}`)) continue;
        held.lost = true;
        held.controller.abort(new DeliveryAborted('the lease was lost: another claim holds this delivery'));
      }
    } catch (error) {
      this.#o.logger.warn(
        { err: errorMessage(error), held: renewable.length },
        'extending delivery leases failed',
      );
    }
  }

  async #reclaimExpired(): Promise<void> {
    try {
      const count = await this.#o.store.reclaimExpiredDeliveries(100);
      if (count > 0) {
        this.#o.logger.warn({ count }, 'reclaimed deliveries whose lease expired');
        this.wake();
      }
    } catch (error) {
      this.#o.logger.warn({ err: errorMessage(error) }, 'reclaiming expired delivery leases failed');
    }
  }

  /**
   * Deliveries of a destination no longer configured are claimed by nobody: say so once at
   * start, with what to do, instead of leaving their events delivering without a word.
   */
  async #warnAboutUnconfigured(): Promise<void> {
    try {
      for (const counts of await this.#o.store.countDeliveries(this.#o.clock.now())) {
        const waiting = counts.byStatus.pending + counts.byStatus.failed + counts.byStatus.processing;
        if (waiting === 0 || this.#byKey.has(`${counts.source}/${counts.name}`)) continue;
        this.#o.logger.warn(
          { destination: `${counts.source}/${counts.name}`, waiting },
          'deliveries wait for a destination that is not configured: add it back to the config to deliver them, or delete their events',
        );
      }
    } catch (error) {
      this.#o.logger.warn(
        { err: errorMessage(error) },
        'checking for deliveries of unconfigured destinations failed',
      );
    }
  }

  /** One tick of the sweep: up to 20 pages of 500, then on from there next tick. */
  async #settle(): Promise<void> {
    try {
      for (let page = 0; page < 20; page++) {
        const { lastId } = await this.#o.store.settleDeliveringEvents(this.#settleCursor, 500);
        this.#settleCursor = lastId ?? '';
        if (lastId === null) break;
      }
    } catch (error) {
      this.#o.logger.warn({ err: errorMessage(error) }, 'settling delivering events failed');
    }
  }
}

function findContentType(headers: Readonly<Record<string, string>>): string | null {
  for (const [name, value] of Object.entries(headers))
    if (name.toLowerCase() === 'content-type') return value;
  return null;
}
