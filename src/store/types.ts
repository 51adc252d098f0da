/**
 * The Store port (DESIGN invariant 7). Everything above this file talks to the store only
 * through `Store`; the SQLite and PostgreSQL adapters pass one shared contract suite
 * (test/store/contract.ts). All times are epoch milliseconds passed in by the caller,
 * never read from the database clock, so an injected Clock controls every decision.
 */

export const eventStatuses = ['pending', 'processing', 'processed', 'failed', 'dead', 'ignored'] as const;
export type EventStatus = (typeof eventStatuses)[number];

export const attemptOutcomes = [
  'processed',
  'failed',
  'dead',
  'ignored',
  'lease_expired',
  'released',
] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

/** One stored event: a verified delivery, exactly once per (source, dedupeKey). */
export interface StoredEvent {
  id: string;
  source: string;
  provider: string;
  dedupeKey: string;
  eventType: string;
  status: EventStatus;
  /** Attempts started in the current retry cycle (a manual retry starts a new cycle at 0). */
  attempts: number;
  nextAttemptAt: number | null;
  lockedUntil: number | null;
  lockedBy: string | null;
  lockedAt: number | null;
  receivedAt: number;
  deliveryCount: number;
  lastDeliveryAt: number;
  processedAt: number | null;
  lastError: string | null;
  /** Request headers as received, less secrets and auth headers (lower-case names). */
  headers: Record<string, string>;
  /** The raw body bytes exactly as received. */
  body: Buffer;
  bodySha256: string;
  updatedAt: number;
}

/** A finished event as `hookbox archive` writes it out before deleting it. */
export interface ArchivableEvent extends StoredEvent {
  /** When retention emptied the body (it is then empty), or null. */
  bodyScrubbedAt: number | null;
}

/** What ingest hands the store for one verified delivery. */
export interface NewEvent {
  /** A fresh ULID; kept only if this delivery creates the event. */
  id: string;
  source: string;
  provider: string;
  dedupeKey: string;
  eventType: string;
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  receivedAt: number;
}

/** The answer to one recorded delivery, in the order the deliveries were given. */
export interface RecordResult {
  /** The stored event's id (the existing one for a duplicate). */
  id: string;
  duplicate: boolean;
  /** The event's status after this write (`processed` on a duplicate means already processed). */
  status: EventStatus;
  deliveryCount: number;
}

export interface Attempt {
  id: number;
  eventId: string;
  attemptNumber: number;
  workerId: string;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  outcome: AttemptOutcome;
  error: string | null;
}

/** A worker's verdict on one claimed event, applied only while that worker still holds the lease. */
export interface AttemptResult {
  eventId: string;
  outcome: 'processed' | 'failed' | 'dead' | 'ignored' | 'released';
  startedAt: number;
  finishedAt: number;
  error?: string | null;
  /** For `failed`: when the event may be claimed again. For `released`: when to retry (default now). */
  nextAttemptAt?: number;
}

export interface EventFilter {
  source?: string;
  provider?: string;
  status?: EventStatus | EventStatus[];
  eventType?: string;
  /** received_at >= since */
  since?: number;
  /** received_at < until */
  until?: number;
  /** Matches an event id or a dedupe key exactly. */
  search?: string;
}

export interface ListEventsQuery extends EventFilter {
  /** Page size, 1..1000. */
  limit: number;
  /** The id of the last event of the previous page; pages go newest first. */
  cursor?: string;
}

/** An event without its body and headers, for lists. */
export type EventSummary = Omit<StoredEvent, 'body' | 'headers'>;

export interface EventPage {
  events: EventSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface DuplicateBodyGroup {
  source: string;
  bodySha256: string;
  count: number;
  eventIds: string[];
  dedupeKeys: string[];
}

export interface StoreStatistics {
  total: number;
  byStatus: Record<EventStatus, number>;
  byProvider: Record<string, number>;
  byType: Record<string, number>;
  /** The oldest event still waiting (pending, failed or processing), or null. */
  oldestPending: { id: string; source: string; eventType: string; receivedAt: number } | null;
}

/** One bucket [start, start + bucketMs) of the dashboard's time series. */
export interface TimeSeriesBucket {
  start: number;
  /** Events received in the bucket. */
  received: number;
  /** Attempts finished in the bucket that processed their event (manual marks included). */
  processed: number;
  /** Attempts finished in the bucket that failed or killed their event. */
  failed: number;
  /** Events waiting (pending, failed, processing) at the end of the bucket, reconstructed from the rows now. */
  backlog: number;
}

/** Aggregates the monitor needs over a time window [since, now]. */
export interface WindowAggregates {
  total: number;
  byStatus: Record<EventStatus, number>;
  byProvider: Record<string, number>;
  byType: Record<string, number>;
  averageAttempts: number;
  /** Extra deliveries of events received in the window (sum of delivery_count - 1). */
  duplicateDeliveries: number;
  /** Handler durations (ms) of attempts finished in the window, ascending; capped at `maxSamples`. */
  attemptDurations: number[];
  /** processed_at - received_at (ms) of events processed in the window, ascending; capped. */
  processingLatencies: number[];
  /** Attempts finished in the window with outcome failed or dead. */
  failedAttempts: number;
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  leaseMs: number;
  now: number;
  /** Only claim events of these sources (circuit breakers, source-scoped workers). */
  excludeSources?: string[];
}

/**
 * A transaction handle a handler may write through (PostgreSQL only): its writes commit
 * together with the event being marked processed, or not at all.
 */
export interface TransactionHandle {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
}

/** Opened lazily by the worker for one event; finished by `commitWith` or `rollback`. */
export interface EventTransaction {
  readonly handle: TransactionHandle;
  /** Whether the handler used the handle (only then must completion go through it). */
  readonly used: boolean;
  /**
   * Apply `result` (must be `processed`) fenced by the lease holder inside this transaction and
   * commit; returns false (and rolls back) when the lease was lost.
   */
  commitWith(workerId: string, result: AttemptResult, now: number): Promise<boolean>;
  rollback(): Promise<void>;
}

export interface Store {
  readonly engine: 'sqlite' | 'postgres';

  /** Apply pending numbered migrations; safe when several processes call it at once. */
  migrate(): Promise<void>;
  /** Cheap round trip for /readyz; throws when the store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // ---- ingest ----
  /**
   * Record deliveries in one transaction (group commit). A (source, dedupeKey) already stored,
   * or repeated within `events`, is a duplicate: its delivery_count grows and last_delivery_at
   * moves, nothing else changes. Results are in input order. Throws StoreUnavailableError when
   * the commit fails; then nothing of the batch is stored.
   */
  recordEvents(events: NewEvent[], now: number): Promise<RecordResult[]>;

  // ---- worker ----
  /** Claim up to `limit` due events (pending or failed with next_attempt_at <= now): status processing, attempts + 1, lease. */
  claimEvents(options: ClaimOptions): Promise<StoredEvent[]>;
  /**
   * Claim one event by id for sync-mode processing, whatever its next_attempt_at, if it is
   * pending or failed (not processing, processed, dead or ignored): same effects as claimEvents. Null otherwise.
   */
  claimEventById(
    id: string,
    options: Omit<ClaimOptions, 'limit' | 'excludeSources'>,
  ): Promise<StoredEvent | null>;
  /** Extend the lease of events this worker still holds; returns the ids still held. */
  extendLeases(workerId: string, eventIds: string[], lockedUntil: number, now: number): Promise<string[]>;
  /**
   * Apply attempt results in one transaction, each fenced by `locked_by = workerId AND status = processing`;
   * writes one attempts row per applied result. Returns the ids applied (a lost lease is skipped).
   */
  finishAttempts(workerId: string, results: AttemptResult[], now: number): Promise<string[]>;
  /**
   * Expired leases: back to failed (or dead when attempts >= maxAttempts), next_attempt_at = now, with an
   * attempts row `lease_expired`. Returns the ids reclaimed.
   */
  reclaimExpiredLeases(now: number, maxAttempts: number): Promise<string[]>;
  /** Begin a transaction for a handler to write through; null on engines without one (SQLite). */
  beginEventTransaction(): Promise<EventTransaction | null>;
  /** Wake-ups: resolve listeners when another process records events (PostgreSQL LISTEN/NOTIFY). Returns an unsubscribe. */
  onEventsRecorded(listener: () => void): Promise<() => Promise<void>>;

  // ---- event service ----
  getEvent(id: string): Promise<StoredEvent | null>;
  findEventByDedupeKey(source: string, dedupeKey: string): Promise<StoredEvent | null>;
  listAttempts(eventId: string): Promise<Attempt[]>;
  listEvents(query: ListEventsQuery): Promise<EventPage>;
  countEvents(filter: EventFilter): Promise<number>;
  /** Due failed events (next_attempt_at <= now), oldest first. */
  listRetryableEvents(now: number, limit: number): Promise<EventSummary[]>;
  /** Mark processed unless already processed; a manual action, so it writes an attempts row with worker `manual`. Returns whether it changed. */
  markProcessed(id: string, now: number): Promise<boolean>;
  /** Mark processed every listed event not yet processed; returns how many changed. */
  bulkMarkProcessed(ids: string[], now: number): Promise<number>;
  /** Count an attempt that failed outside the worker: attempts + 1, last_error, status failed (or dead at maxAttempts), next_attempt_at. */
  markFailed(
    id: string,
    error: string,
    nextAttemptAt: number,
    maxAttempts: number,
    now: number,
  ): Promise<StoredEvent | null>;
  /** Put events matching the filter (never processing ones) back to pending, due now, attempts reset; returns how many. */
  requeueEvents(filter: EventFilter & { ids?: string[] }, now: number): Promise<number>;
  deleteEvent(id: string): Promise<boolean>;
  /** Delete processed (and ignored) events processed before `before`; returns how many. */
  deleteProcessedBefore(before: number, limit?: number): Promise<number>;
  /**
   * Retention's first stage: empty the bodies of processed (and ignored) events processed before
   * `before` and not scrubbed yet, oldest first, keeping metadata, headers, hash and attempts;
   * records `now` as the scrub time. Returns how many.
   */
  scrubBodiesBefore(before: number, now: number, limit?: number): Promise<number>;
  /** Archive: processed (and ignored) events processed before `before`, in id order after `afterId` ('' from the start). */
  listFinishedEvents(before: number, afterId: string, limit: number): Promise<ArchivableEvent[]>;
  /** Archive: delete these events while still processed (or ignored) before `before`; returns how many. */
  deleteFinishedEvents(ids: string[], before: number): Promise<number>;
  /** Events whose body hash appears under several dedupe keys of one source. */
  findDuplicateBodies(limit: number): Promise<DuplicateBodyGroup[]>;
  /** Events delivered more than once, most deliveries first. */
  listRedeliveredEvents(limit: number): Promise<EventSummary[]>;
  getStatistics(): Promise<StoreStatistics>;
  aggregateWindow(since: number, now: number, maxSamples: number): Promise<WindowAggregates>;
  /** Per-bucket counts over [since, now], buckets of `bucketMs` from `since`, empty ones included (dashboard charts). */
  aggregateTimeSeries(since: number, now: number, bucketMs: number): Promise<TimeSeriesBucket[]>;
  /** Requeue events held in processing since before `lockedBefore`, lease or not (auto-remediation of hung handlers). */
  requeueStuckProcessing(lockedBefore: number, now: number): Promise<number>;
}
