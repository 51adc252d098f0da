import { StoreRowRefusedError, StoreUnavailableError } from '../errors.ts';
import type { ClaimedEvent, IngestClaim, IngestStore, NewEvent, RecordResult } from '../store/types.ts';

/**
 * The local worker, as group commit sees it for claim-at-ingest: it lends free slots for the
 * next commit, and takes the events that commit claimed.
 */
export interface IngestClaimer {
  readonly workerId: string;
  readonly leaseMs: number;
  /** Reserve up to `count` slots; returns how many. */
  reserve(count: number): number;
  unreserve(count: number): void;
  /** Run an event the commit claimed (uses one reserved slot); `sentAt` is when the commit went out. */
  adopt(event: ClaimedEvent, payload: unknown, sentAt: number): void;
}

export interface GroupCommitOptions {
  store: IngestStore;
  /** The local worker, when it may take new events in the commit that records them. */
  claimer?: IngestClaimer;
  /** Rows in one statement at most. */
  maxBatch?: number;
  /** Body bytes in one statement at most (a batch stops growing past it). */
  maxBatchBytes?: number;
  /** Commits under way at once: 1 suits SQLite's single writer; PostgreSQL gains from 2. */
  maxInFlight?: number;
  /** Deliveries waiting for a commit at most; more are answered 503 at once. */
  maxQueuedRows?: number;
  /** Body bytes waiting for a commit at most; more are answered 503 at once. */
  maxQueuedBytes?: number;
  /** The Retry-After (seconds) given with an overload or an outage. */
  retryAfterSeconds?: number;
}

export interface RecordOptions {
  /** The local worker may claim this event in its commit (async-mode sources). */
  claimable?: boolean;
  /** Handed to the worker with a claimed event: the payload verification already parsed. */
  payload?: unknown;
}

interface Waiting {
  event: NewEvent;
  options: RecordOptions;
  resolve: (result: RecordResult) => void;
  reject: (error: unknown) => void;
}

/** Refused before it reached the store: the queue is full, or the store is down; answered 503. */
export class IngestOverloadedError extends StoreUnavailableError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'IngestOverloadedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Group commit (DESIGN, Decisions): deliveries that arrive while a commit is under way are
 * written together in the next one, and each caller is answered only after the commit that
 * holds its row. No timer: at low load a delivery commits alone at once; under load batches grow
 * by themselves. The queue is bounded by rows and bytes, so a slow or dead store costs 503s, not
 * memory. A row the database refuses fails alone: its batch is split until the row stands by
 * itself, and its neighbours are recorded without it.
 */
export class GroupCommitter {
  readonly #store: IngestStore;
  readonly #claimer: IngestClaimer | undefined;
  readonly #maxBatch: number;
  readonly #maxBatchBytes: number;
  readonly #maxInFlight: number;
  readonly #maxQueuedRows: number;
  readonly #maxQueuedBytes: number;
  readonly #retryAfterSeconds: number;
  #queue: Waiting[] = [];
  #queuedBytes = 0;
  #inFlight = 0;
  #scheduled = false;
  /** The last commit failed for want of a store: until one succeeds, only one probe batch waits. */
  #storeDown = false;

  constructor(options: GroupCommitOptions) {
    this.#store = options.store;
    this.#claimer = options.claimer;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
    this.#maxInFlight = options.maxInFlight ?? (options.store.engine === 'sqlite' ? 1 : 2);
    this.#maxQueuedRows = options.maxQueuedRows ?? 10_000;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.#retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }

  /** How much is waiting for a commit right now (for metrics and tests). */
  get queued(): { rows: number; bytes: number } {
    return { rows: this.#queue.length, bytes: this.#queuedBytes };
  }

  record(event: NewEvent, options: RecordOptions = {}): Promise<RecordResult> {
    const refusal = this.#admit(event.body.length);
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, options, resolve, reject });
      this.#queuedBytes += event.body.length;
      this.#schedule();
    });
  }

  #admit(bytes: number): IngestOverloadedError | null {
    const rows = this.#queue.length;
    if (this.#storeDown && rows >= this.#maxBatch) {
      return new IngestOverloadedError(
        'the store is not answering; this delivery was not stored. Retry later',
        this.#retryAfterSeconds,
      );
    }
    if (rows >= this.#maxQueuedRows || (rows > 0 && this.#queuedBytes + bytes > this.#maxQueuedBytes)) {
      return new IngestOverloadedError(
        `${rows} deliveries (${Math.round(this.#queuedBytes / 1024)} KiB) are already waiting for the store; this one was not stored. Retry later`,
        this.#retryAfterSeconds,
      );
    }
    return null;
  }

  /** Commits allowed under way now: one probe while the store is down. */
  get #slots(): number {
    return this.#storeDown ? 1 : this.#maxInFlight;
  }

  /**
   * The store was just found not answering: what queued while it was thought up would otherwise
   * go out batch after batch, each waiting out the store's deadline (ten thousand rows queued
   * is twenty deadlines for the last). One batch stays as the probe; the rest is answered 503 now.
   */
  #shedQueue(): void {
    if (this.#queue.length <= this.#maxBatch) return;
    const shed = this.#queue.splice(this.#maxBatch);
    const refusal = new IngestOverloadedError(
      'the store is not answering; this delivery was not stored. Retry later',
      this.#retryAfterSeconds,
    );
    for (const waiting of shed) {
      this.#queuedBytes -= waiting.event.body.length;
      waiting.reject(refusal);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#slots || this.#queue.length === 0) return;
    this.#scheduled = true;
    // setImmediate lets every request already read in this turn of the event loop join the batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#commitNext();
    });
  }

  #takeBatch(): Waiting[] {
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && count < this.#maxBatch) {
      const size = this.#queue[count]!.event.body.length;
      if (count > 0 && bytes + size > this.#maxBatchBytes) break;
      bytes += size;
      count++;
    }
    this.#queuedBytes -= bytes;
    return this.#queue.splice(0, count);
  }

  #commitNext(): void {
    if (this.#inFlight >= this.#slots || this.#queue.length === 0) return;
    const batch = this.#takeBatch();
    this.#inFlight++;
    this.#commit(batch)
      .catch((error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      })
      .finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    this.#schedule();
  }

  /** Commit one batch and answer its callers; a row the database refuses is split off and fails alone. */
  async #commit(batch: Waiting[]): Promise<void> {
    const positions = new Set<number>();
    let reserved = 0;
    if (this.#claimer) {
      const eligible = batch.flatMap((w, i) => (w.options.claimable ? [i] : []));
      reserved = this.#claimer.reserve(eligible.length);
      for (const position of eligible.slice(0, reserved)) positions.add(position);
    }
    const claim: IngestClaim | undefined =
      this.#claimer && reserved > 0
        ? { workerId: this.#claimer.workerId, leaseMs: this.#claimer.leaseMs, positions }
        : undefined;
    const sentAt = performance.now();
    let results: RecordResult[];
    try {
      // A store that throws instead of rejecting must not leave the batch unanswered.
      results = await Promise.resolve().then(() =>
        this.#store.recordEvents(
          batch.map((w) => w.event),
          claim,
        ),
      );
      if (results.length !== batch.length) {
        // Never acknowledge without the store's word for each row: answer 503, the provider retries.
        throw new StoreUnavailableError(
          `the store answered ${results.length} results for a batch of ${batch.length}; nothing was acknowledged`,
        );
      }
    } catch (error) {
      if (reserved > 0) this.#claimer!.unreserve(reserved);
      if (error instanceof StoreRowRefusedError && batch.length > 1) {
        // Nothing of the batch was stored: find the refused row by halves, the rest commit.
        const half = Math.ceil(batch.length / 2);
        await this.#commit(batch.slice(0, half));
        await this.#commit(batch.slice(half));
        return;
      }
      this.#storeDown = error instanceof StoreUnavailableError && !(error instanceof IngestOverloadedError);
      for (const waiting of batch) waiting.reject(error);
      if (this.#storeDown) this.#shedQueue();
      return;
    }
    this.#storeDown = false;
    let adopted = 0;
    for (let i = 0; i < batch.length; i++) {
      const waiting = batch[i]!;
      const result = results[i]!;
      if (result.claim && this.#claimer) {
        adopted++;
        this.#claimer.adopt(
          claimedEventOf(waiting.event, result, this.#claimer.workerId),
          waiting.options.payload,
          sentAt,
        );
      }
      waiting.resolve(result);
    }
    if (reserved > adopted) this.#claimer!.unreserve(reserved - adopted);
  }
}

/** The claimed event as the store now holds it, built from what ingest already has (no read back). */
function claimedEventOf(event: NewEvent, result: RecordResult, workerId: string): ClaimedEvent {
  const claim = result.claim!;
  return {
    id: result.id,
    source: event.source,
    provider: event.provider,
    dedupeKey: event.dedupeKey,
    eventType: event.eventType,
    status: 'processing',
    attempts: 1,
    nextAttemptAt: claim.nextAttemptAt,
    lockedUntil: claim.lockedUntil,
    lockedBy: workerId,
    lockedAt: claim.lockedAt,
    receivedAt: event.receivedAt,
    deliveryCount: result.deliveryCount,
    lastDeliveryAt: event.receivedAt,
    processedAt: null,
    lastError: null,
    headers: event.headers,
    body: event.body,
    bodySha256: event.bodySha256,
    updatedAt: claim.updatedAt,
    claimToken: claim.token,
  };
}
