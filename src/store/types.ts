import type { EventOrdering } from '../ordering/key.ts';
import type {
  DuplicateBodyGroup,
  EventAttempt,
  EventFilter,
  HookboxEvent,
  ListEventsQuery,
} from '../public-types.ts';

/**
 * The Store port (DESIGN invariant 7), split by role: ingest records deliveries, the worker
 * claims and finishes events under fenced leases, and the event queries serve the admin API,
 * the dashboard, the CLI and monitoring. Each user takes the part it needs; the SQLite and
 * PostgreSQL adapters implement all of it and pass one shared contract suite
 * (test/store/contract.ts).
 *
 * Time belongs to the store. Leases and due times are decided by the store's clock: on
 * PostgreSQL the database's own clock (hosts' clocks drift; the shared database is one clock),
 * on SQLite the one machine's clock. A store opened with an injected Clock uses that instead,
 * so tests move time by hand (invariant 6). Callers pass durations (lease length, retry delay),
 * never absolute "now"s.
 */

// `waiting`: an ordered event behind an earlier event of its key (docs/ordering.md); not claimable.
/** `delivering`: the handlers are done (or there were none) and deliveries to destinations remain. */
export const eventStatuses = [
  'pending',
  'processing',
  'processed',
  'failed',
  'dead',
  'ignored',
  'waiting',
  'delivering',
] as const;
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

/**
 * One stored event: a verified delivery, exactly once per (source, dedupeKey). The public
 * HookboxEvent (public-types.ts) plus who holds it now.
 */
export interface StoredEvent extends HookboxEvent {
  lockedUntil: number | null;
  lockedBy: string | null;
  lockedAt: number | null;
}

/**
 * A claim: which holding of an event this is. Every claim of an event increments its token,
 * so a verdict, a lease renewal or a release made under an older claim matches nothing.
 */
export interface Claim {
  eventId: string;
  token: number;
  /**
   * The event's ordering key (ordered events only): a write that changes the key's set of
   * unfinished events promotes its next head in the same transaction (src/ordering).
   */
  ordering?: OrderingRef;
}

/** One ordering key of one source. */
export interface OrderingRef {
  source: string;
  key: string;
}

/** An event claimed by a worker, with the token that fences everything it does with it. */
export interface ClaimedEvent extends StoredEvent {
  claimToken: number;
}

/** A finished event as `hookbox archive` writes it out before deleting it. */
export interface ArchivableEvent extends StoredEvent {
  /** When retention emptied the body (it is then empty), or null. */
  bodyScrubbedAt: number | null;
}

/** What ingest hands the store for one verified delivery. */
export interface NewEvent {
  /** A fresh ULID made at `receivedAt`; kept only if this delivery creates the event. */
  id: string;
  source: string;
  provider: string;
  dedupeKey: string;
  eventType: string;
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  receivedAt: number;
  /** Set for an ordered event (src/ordering/key.ts): it is recorded `waiting`, then its key's head is promoted. */
  ordering?: EventOrdering | null;
  /**
   * Names of the source's destinations whose `types` match this event: a new event gets one
   * pending delivery per name in the transaction that records it. Absent or empty: none.
   */
  destinations?: readonly string[];
  /**
   * No handler takes it, only its destinations (ingest decides, from this process's handlers):
   * recorded `delivering`, never claimed by the event worker, settled by its deliveries.
   * Requires `destinations`; never set on an ordered event.
   */
  forwardOnly?: boolean;
}

/**
 * Claim-at-ingest: a local worker with free slots takes the batch's new events in the same
 * transaction that records them, so they are held under a lease from the start and cost no
 * separate claim commit.
 */
export interface IngestClaim {
  workerId: string;
  leaseMs: number;
  /** Which input positions the worker can take (new events only are claimed). */
  positions: ReadonlySet<number>;
}

/** The answer to one recorded delivery, in the order the deliveries were given. */
export interface RecordResult {
  /** The stored event's id (the existing one for a duplicate). */
  id: string;
  duplicate: boolean;
  /** The event's status after this write (`processed` on a duplicate means already processed). */
  status: EventStatus;
  deliveryCount: number;
  /** Set when this write claimed the new event for IngestClaim's worker. */
  claim?: {
    token: number;
    lockedAt: number;
    lockedUntil: number;
    nextAttemptAt: number;
    updatedAt: number;
  };
}

/** One row of the audit trail: the public EventAttempt with its row id (the order attempts were made). */
export interface Attempt extends EventAttempt {
  id: number;
}

/** A worker's verdict on one claimed event, applied only while that claim still holds it. */
export interface AttemptResult extends Claim {
  outcome: 'processed' | 'failed' | 'dead' | 'ignored' | 'released';
  /** The worker's times for the audit row (its own clock: they say when the handler ran). */
  startedAt: number;
  finishedAt: number;
  error?: string | null;
  /** For `failed` and `released`: how long from now (the store's clock) until it is due again; default 0. */
  retryDelayMs?: number;
  /**
   * The attempts row for this verdict was written already (recordAttempts, when a handler timed
   * out but was still running); only the event's state changes now.
   */
  alreadyRecorded?: boolean;
}

/** An attempt's audit row written while its claim still holds the event (a timeout before the handler settled). */
export interface HeldAttemptRecord extends Claim {
  outcome: 'failed' | 'dead';
  startedAt: number;
  finishedAt: number;
  error: string;
}

/** A lease that ran out without a verdict, as found (fenced by its token when reclaimed). */
export interface ExpiredLease extends Claim {
  source: string;
  attempts: number;
  lockedBy: string | null;
  lockedAt: number | null;
}

/** What to do with one expired lease: count the lost attempt and wait like any failure. */
export interface LeaseReclaim extends ExpiredLease {
  outcome: 'failed' | 'dead';
  retryDelayMs: number;
}

// Filters and queries are part of the public API (public-types.ts): declared once, there.
export type { EventFilter, ListEventsQuery } from '../public-types.ts';

/** An event without its body and headers, for lists. */
export type EventSummary = Omit<StoredEvent, 'body' | 'headers' | 'bodySha256'>;

export interface EventPage {
  events: EventSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export type { DuplicateBodyGroup } from '../public-types.ts';

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
  /** Leave these sources' events alone (open circuit breakers). */
  excludeSources?: string[];
}

/** What a verdict write claims besides, for the worker that wrote it (finishAttemptsAndClaimNext). */
export interface SuccessorClaimOptions {
  /** Keys whose verdicts are in the write: each one's next event, if it may run now. */
  keys: OrderingRef[];
  leaseMs: number;
  /** Leave these sources' events alone (open circuit breakers). */
  excludeSources?: string[];
}

export interface FinishedAttempts {
  /** The claims whose verdicts applied. */
  applied: Claim[];
  /** The keys' next events, now held by the same worker. */
  claimed: ClaimedEvent[];
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
   * Apply `result` (must be `processed`) fenced by its claim inside this transaction and commit;
   * returns false (and rolls back) when the claim no longer holds the event.
   */
  commitWith(workerId: string, result: AttemptResult): Promise<boolean>;
  rollback(): Promise<void>;
}

export interface StoreLifecycle {
  readonly engine: 'sqlite' | 'postgres';
  /** Apply pending numbered migrations; safe when several processes call it at once. */
  migrate(): Promise<void>;
  /** Cheap round trip for /readyz; throws when the store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Wake-ups when another writer records events (PostgreSQL LISTEN/NOTIFY, in-process on SQLite). */
export interface EventsRecordedFeed {
  /** Returns an unsubscribe. */
  onEventsRecorded(listener: () => void): Promise<() => Promise<void>>;
}

export interface IngestStore {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Record deliveries in one transaction (group commit). A (source, dedupeKey) already stored,
   * or repeated within `events`, is a duplicate: its delivery_count grows and last_delivery_at
   * moves, nothing else changes. Results are in input order. Throws StoreRowRefusedError when
   * the database refused a row's data (nothing of the batch is stored; the caller isolates the
   * row), StoreUnavailableError when it could not commit at all.
   */
  recordEvents(events: NewEvent[], claim?: IngestClaim): Promise<RecordResult[]>;
}

export interface WorkerStore extends EventsRecordedFeed {
  readonly engine: 'sqlite' | 'postgres';
  /** Claim up to `limit` due events (pending or failed, due now): processing, attempts + 1, a new token, a lease. */
  claimEvents(options: ClaimOptions): Promise<ClaimedEvent[]>;
  /**
   * Claim one event by id (sync mode, manual retry) if it is pending, or failed and due (a
   * failed event keeps its backoff unless `ignoreBackoff`): same effects as claimEvents. Null
   * otherwise.
   */
  claimEventById(
    id: string,
    options: Omit<ClaimOptions, 'limit' | 'excludeSources'> & { ignoreBackoff?: boolean },
  ): Promise<ClaimedEvent | null>;
  /** Renew the lease of each claim that still holds its event; returns those claims. */
  extendLeases(claims: Claim[], leaseMs: number): Promise<Claim[]>;
  /**
   * Write attempts rows for claims that still hold their event (a handler that timed out but
   * has not settled: the attempt is on record, the event stays held). Sets last_error too.
   * Returns the claims applied.
   */
  recordAttempts(workerId: string, records: HeldAttemptRecord[]): Promise<Claim[]>;
  /**
   * Apply verdicts in one transaction, each fenced by its claim token (and status processing);
   * writes one attempts row per applied verdict unless already recorded. A stale verdict (its
   * claim was reclaimed, released or replaced) matches nothing. Returns the claims applied.
   */
  finishAttempts(workerId: string, results: AttemptResult[]): Promise<Claim[]>;
  /**
   * finishAttempts, and in the same transaction claim for this worker the head of each of
   * `next.keys` that its verdicts left free, when it may run now (docs/ordering.md): a key's turn
   * passes to its next event without a promotion and a claim commit of its own. The claims are
   * as claimEvents makes them. Only where that pays: on SQLite, whose one writer makes every
   * commit wait for the last; PostgreSQL claims on another connection while a verdict commits,
   * so a slot waiting for its verdict's commit would sit idle (measured: docs/benchmarks.md).
   */
  finishAttemptsAndClaimNext?(
    workerId: string,
    results: AttemptResult[],
    next: SuccessorClaimOptions | null,
  ): Promise<FinishedAttempts>;
  /** Leases that ran out (by the store's clock), oldest event first. */
  findExpiredLeases(limit: number): Promise<ExpiredLease[]>;
  /**
   * Apply each reclaim whose claim still holds an expired lease: failed (due after its delay)
   * or dead, with a `lease_expired` attempts row. Returns the ids reclaimed.
   */
  reclaimExpiredLeases(reclaims: LeaseReclaim[]): Promise<string[]>;
  /** Begin a transaction for a handler to write through; null on engines without one (SQLite). */
  beginEventTransaction(): Promise<EventTransaction | null>;
}

export interface EventQueryStore {
  readonly engine: 'sqlite' | 'postgres';
  getEvent(id: string): Promise<StoredEvent | null>;
  findEventByDedupeKey(source: string, dedupeKey: string): Promise<StoredEvent | null>;
  listAttempts(eventId: string): Promise<Attempt[]>;
  listEvents(query: ListEventsQuery): Promise<EventPage>;
  countEvents(filter: EventFilter): Promise<number>;
  /** Due failed events, oldest due first. */
  listRetryableEvents(limit: number): Promise<EventSummary[]>;
  /** Mark processed unless already processed; a manual action, so it writes an attempts row with worker `manual`. Returns whether it changed. */
  markProcessed(id: string): Promise<boolean>;
  /** Mark processed every listed event not yet processed; returns how many changed. */
  bulkMarkProcessed(ids: string[]): Promise<number>;
  /** Count an attempt that failed outside the worker: attempts + 1, last_error, status failed (or dead at maxAttempts), due after `retryDelayMs`. */
  markFailed(
    id: string,
    error: string,
    retryDelayMs: number,
    maxAttempts: number,
  ): Promise<StoredEvent | null>;
  /** Put events matching the filter (never processing ones) back to pending, due now, attempts reset; returns how many. */
  requeueEvents(filter: EventFilter & { ids?: string[] }): Promise<number>;
  deleteEvent(id: string): Promise<boolean>;
  /** Delete processed (and ignored) events processed before `before`, oldest events first; returns how many. */
  deleteProcessedBefore(before: number, limit?: number): Promise<number>;
  /**
   * Retention's first stage: empty the bodies of processed (and ignored) events processed before
   * `before` and not scrubbed yet, keeping metadata, headers, hash and attempts. Walks events in
   * id order after `afterId` (pass the previous call's `lastId` to go on); returns how many it
   * scrubbed and the last id it looked at (null when it reached the end).
   */
  scrubBodiesBefore(
    before: number,
    options?: { limit?: number; afterId?: string },
  ): Promise<{ count: number; lastId: string | null }>;
  /** Archive: processed (and ignored) events processed before `before`, in id order after `afterId` ('' from the start). */
  listFinishedEvents(before: number, afterId: string, limit: number): Promise<ArchivableEvent[]>;
  /** Archive: delete these events while still processed (or ignored) before `before`; returns how many. */
  deleteFinishedEvents(ids: string[], before: number): Promise<number>;
  /** Events whose body hash appears under several dedupe keys of one source. */
  findDuplicateBodies(limit: number): Promise<DuplicateBodyGroup[]>;
  /** Events delivered more than once, most deliveries first. */
  listRedeliveredEvents(limit: number): Promise<EventSummary[]>;
  getStatistics(): Promise<StoreStatistics>;
  /** Events held in processing for longer than `ms` (by the store's clock): handlers still running long after their timeout. */
  countHeldLongerThan(ms: number): Promise<number>;
  aggregateWindow(since: number, until: number, maxSamples: number): Promise<WindowAggregates>;
  /** Per-bucket counts over [since, until], buckets of `bucketMs` from `since`, empty ones included (dashboard charts). */
  aggregateTimeSeries(since: number, until: number, bucketMs: number): Promise<TimeSeriesBucket[]>;
  /** The store's clock, epoch ms (the database's on PostgreSQL unless a clock was injected). */
  now(): Promise<number>;
  /** Ordering: keys blocked by a dead head (onDead block, not skipped), up to `limit`, one row per key. */
  listBlockedKeys(limit: number): Promise<BlockedKey[]>;
  /**
   * Ordering: unblock a key by retrying its dead head (a new retry cycle, it runs first) or
   * skipping it (it stays dead; the key's next event runs). Returns the head's id, null when the
   * key is not blocked.
   */
  unblockKey(source: string, key: string, action: 'retry' | 'skip'): Promise<string | null>;
}

/** A key blocked by its dead head (docs/ordering.md). */
export interface BlockedKey {
  source: string;
  key: string;
  headId: string;
  headEventType: string;
  lastError: string | null;
  /** When the head went dead (its last change), epoch ms. */
  blockedSince: number;
  /** Events of the key waiting behind it. */
  waiting: number;
}

// ---- Destinations (issue 14): deliveries, their attempts, destination states ----

export const deliveryStatuses = ['pending', 'processing', 'succeeded', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

export const destinationStates = ['active', 'paused', 'disabled'] as const;
/** `paused` by an operator, `disabled` by a 410 Gone (until enabled); no row means active. */
export type DestinationState = (typeof destinationStates)[number];

export const deliveryAttemptOutcomes = ['succeeded', 'failed', 'dead', 'disabled', 'lease_expired'] as const;
export type DeliveryAttemptOutcome = (typeof deliveryAttemptOutcomes)[number];

/** One (event, destination): its own status, attempts, lease and dead letter. */
export interface StoredDelivery {
  id: number;
  eventId: string;
  source: string;
  destination: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lockedBy: string | null;
  lockedAt: number | null;
  lockedUntil: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  /** When it succeeded or went dead; null while it may still be attempted. */
  finishedAt: number | null;
}

/** Which holding of a delivery a write belongs to (the token grows by one per claim). */
export interface DeliveryClaim {
  deliveryId: number;
  token: number;
}

/** A delivery claimed under a lease, with what the attempt sends. */
export interface ClaimedDelivery extends StoredDelivery {
  claimToken: number;
  eventType: string;
  receivedAt: number;
  /** The event's ordering key (docs/ordering.md), or null when it is unordered. */
  orderingKey: string | null;
  /** The provider request's stored headers (credentials removed). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ClaimDeliveriesOptions {
  workerId: string;
  leaseMs: number;
  /**
   * How many to claim per destination (its free capacity): each destination is claimed from its
   * own queue, so one destination's backlog never starves another's claims. Paused and disabled
   * destinations are skipped by the store.
   */
  destinations: { source: string; name: string; limit: number }[];
}

/** What one delivery attempt left on record. */
export interface DeliveryAttemptRecord {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** The first bytes of the response body; the store keeps at most 1024. */
  responseExcerpt: Buffer;
  errorCode: string | null;
  error: string | null;
}

/**
 * The verdict on one claimed delivery, applied only while that claim still holds it.
 * `succeeded` and `dead` finish it; `failed` waits `retryDelayMs`; `disabled` (a 410) puts it
 * back to pending and disables its destination; `released` (shutdown) gives the attempt back.
 */
export interface DeliveryResult extends DeliveryClaim {
  outcome: 'succeeded' | 'failed' | 'dead' | 'disabled' | 'released';
  /**
   * The event's ordering key, when it has one: a verdict that settles its event frees the key,
   * and on PostgreSQL the store takes the key's lock before writing it (docs/ordering.md).
   */
  ordering?: OrderingRef;
  /** Required for every outcome but `released`. */
  attempt?: DeliveryAttemptRecord;
  /** `failed` only: due again this long from now. The other outcomes keep the due time they had. */
  retryDelayMs?: number;
}

/** One row of a delivery's audit trail. */
export interface DeliveryAttempt extends DeliveryAttemptRecord {
  id: number;
  deliveryId: number;
  attemptNumber: number;
  workerId: string;
  outcome: DeliveryAttemptOutcome;
}

export interface DestinationStateRecord {
  source: string;
  name: string;
  state: DestinationState;
  reason: string | null;
  changedAt: number;
}

export interface DeliveryFilter {
  source?: string;
  destination?: string;
  status?: DeliveryStatus[];
  eventId?: string;
  /** Deliveries with a smaller id (the list is newest first): the previous page's last id. */
  beforeId?: number;
  limit: number;
}

/** Deliveries of one destination by status, and its attempts since a time. */
export interface DestinationCounts {
  source: string;
  name: string;
  /** Pending, processing, failed and dead now; `succeeded`: successes since `since`. */
  byStatus: Record<DeliveryStatus, number>;
  /** Attempts since `since` by outcome. */
  attemptsSince: Record<DeliveryAttemptOutcome, number>;
}

export interface DeliveryStore {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Wake-ups when deliveries become due (new events with destinations, a retry, a replay) on any
   * process (PostgreSQL NOTIFY on its own channel, in-process on SQLite); returns an unsubscribe.
   * Events without destinations never wake delivery workers.
   */
  onDeliveriesDue(listener: () => void): Promise<() => Promise<void>>;
  /** Claim due deliveries (pending, or failed and due) per destination: processing, attempts + 1, a new token, a lease. Oldest due first, then by event id (receipt order). */
  claimDeliveries(options: ClaimDeliveriesOptions): Promise<ClaimedDelivery[]>;
  /** Renew the leases of claims that still hold their delivery; returns those claims. */
  extendDeliveryLeases(claims: DeliveryClaim[], leaseMs: number): Promise<DeliveryClaim[]>;
  /**
   * Apply verdicts in one transaction, each fenced by its claim token, with one attempts row per
   * attempt. The last delivery of a `delivering` event to succeed marks it processed; a dead
   * one marks it dead; `disabled` disables the destination. Returns the claims applied.
   */
  finishDeliveries(workerId: string, results: DeliveryResult[]): Promise<DeliveryClaim[]>;
  /** Deliveries whose lease ran out go back to failed, due now, with a `lease_expired` attempt; returns how many. */
  reclaimExpiredDeliveries(limit: number): Promise<number>;
  /**
   * The safety net for concurrent verdicts on PostgreSQL (a handler verdict and a delivery's, or
   * two deliveries', each not seeing the other's commit): `delivering` events whose deliveries
   * all succeeded become processed, those with a dead one dead. Walks them by id after `afterId`.
   */
  settleDeliveringEvents(afterId: string, limit: number): Promise<{ count: number; lastId: string | null }>;
  /** The same for these events (a delivery worker, shortly after their deliveries finished); returns how many it settled. */
  settleEvents(eventIds: string[]): Promise<number>;
  listDestinationStates(): Promise<DestinationStateRecord[]>;
  /** Set a destination's state (an upsert); returns the state it had before (active when no row). */
  setDestinationState(
    source: string,
    name: string,
    state: DestinationState,
    reason: string | null,
  ): Promise<DestinationState>;
  getDelivery(id: number): Promise<StoredDelivery | null>;
  /** Newest first. */
  listDeliveries(filter: DeliveryFilter): Promise<StoredDelivery[]>;
  listDeliveryAttempts(deliveryId: number): Promise<DeliveryAttempt[]>;
  /**
   * Per destination with a delivery to make, a dead one or an attempt since `since`: counts by
   * status (succeeded: since `since`), attempts since `since` by outcome. Reads the backlog,
   * the dead and the window, never every delivery.
   */
  countDeliveries(since: number): Promise<DestinationCounts[]>;
  /**
   * A failed or dead delivery back to pending, due now, attempts reset; its event goes back to
   * `delivering` when it was dead only through its deliveries and none other is dead. Null
   * when there is no such delivery or it is not failed or dead.
   */
  retryDelivery(id: number): Promise<StoredDelivery | null>;
  /**
   * Deliver an event again to these destinations of its source: a delivery row is created, or
   * reset to pending (attempts 0, due now) unless it is being attempted right now. A finished
   * event (processed, ignored, or dead through its deliveries) goes back to `delivering`.
   * Returns the event's deliveries as the replay left them (a worker may take one the next
   * moment); null when the event does not exist.
   */
  replayEvent(eventId: string, destinations: readonly string[]): Promise<StoredDelivery[] | null>;
}

/** Everything an adapter implements; each user depends on the role it needs. */
export interface Store extends StoreLifecycle, IngestStore, WorkerStore, EventQueryStore, DeliveryStore {}
