/**
 * The types a library user touches, declared by hand in one place (docs/library.md). Nothing
 * here is inferred from the implementation: `src/create-hookbox.ts` assigns the internal
 * objects to these types, so the compiler checks that the implementation still gives what is
 * promised here, and internal changes (the Store port, the worker, Hono's env) cannot leak
 * into a user's types.
 *
 * Option sections that are already explicit, user-facing interfaces elsewhere (monitoring,
 * redaction, circuit breakers, the health report) are imported by name rather than copied.
 */
import type { Logger } from 'pino';
import type { DestinationOperations } from './destinations/operations.ts';
import type { AlertNotice, AlertSink, NotifyResult } from './monitor/alert-notifier.ts';
import type { HealthReport } from './monitor/health-monitor.ts';
import type { MonitoringOptions } from './monitor/monitoring.ts';
import type { OrderingDefinition, OrderingKeyFunction } from './ordering/settings.ts';
import type { RedactionSettings } from './redaction.ts';
import type { CircuitBreakerSettings } from './worker/circuit-breaker.ts';

// Destinations: the operations service's own types, by name (src/destinations/operations.ts).
export type {
  DeliveryDetail,
  DeliveryPage,
  DestinationSummary,
  ListDeliveriesOptions,
} from './destinations/operations.ts';
export type {
  DeliveryAttempt,
  DeliveryStatus,
  DestinationState,
  StoredDelivery as Delivery,
} from './store/types.ts';

/** `hookbox.destinations`: operate destinations and deliveries (see DestinationOperations' doc comments). */
export interface HookboxDestinations extends DestinationOperations {}

export type {
  AlertNotice,
  AlertSink,
  CircuitBreakerSettings,
  HealthReport,
  Logger,
  MonitoringOptions,
  NotifyResult,
  OrderingDefinition,
  OrderingKeyFunction,
  RedactionSettings,
};

/**
 * Where events are stored: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`,
 * with an optional `?schema=NAME`) for PostgreSQL; `file:PATH` for a SQLite file. Unset: SQLite
 * at `./data/hookbox.db`.
 */
export type StoreUrl = string;

/**
 * `waiting`: an ordered event behind an earlier event of its ordering key (docs/ordering.md).
 * `delivering`: handlers done (or none), deliveries to destinations remain (docs/destinations.md).
 */
export type EventStatus =
  | 'pending'
  | 'processing'
  | 'processed'
  | 'failed'
  | 'dead'
  | 'ignored'
  | 'waiting'
  | 'delivering';

/** One stored event: a verified delivery, stored once per (source, dedupeKey). Times are epoch ms. */
export interface HookboxEvent {
  /** Sortable (ULID). */
  id: string;
  source: string;
  provider: string;
  /** The provider's event or delivery id (or a SHA-256 of the body where it has none). */
  dedupeKey: string;
  eventType: string;
  status: EventStatus;
  /** Attempts started in the current retry cycle. */
  attempts: number;
  nextAttemptAt: number | null;
  receivedAt: number;
  /** How many deliveries of this event arrived (repeats are counted here, never stored again). */
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
  /** The ordering key of an ordered event (docs/ordering.md); absent on unordered events and in lists. */
  orderingKey?: string;
}

/** An event without its body, headers and body hash (they live in the write-once body row), as lists return it. */
export type HookboxEventSummary = Omit<HookboxEvent, 'body' | 'headers' | 'bodySha256'>;

export type AttemptOutcome = 'processed' | 'failed' | 'dead' | 'ignored' | 'lease_expired' | 'released';

/** One processing attempt, as recorded in the audit trail. */
export interface EventAttempt {
  eventId: string;
  attemptNumber: number;
  workerId: string;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  outcome: AttemptOutcome;
  error: string | null;
}

/** PostgreSQL only: a query runner inside the transaction that marks the event processed. */
export interface Transaction {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
}

/** What a handler receives for one attempt. */
export interface HandlerContext {
  event: HookboxEvent;
  /** The decoded payload (parsed JSON, form fields, Pub/Sub data), decoded once per attempt. */
  payload: unknown;
  /** 1 on the first try. */
  attempt: number;
  /** Bound to the event id, source and attempt. */
  logger: Logger;
  /** Fires when the handler times out, the lease is lost or the worker shuts down. */
  signal: AbortSignal;
  /**
   * PostgreSQL only: writes made through it commit in the same transaction that marks the
   * event processed, so their effect happens exactly once. Undefined on SQLite.
   */
  tx?: Transaction;
}

/** Throwing (or rejecting) fails the attempt: it is retried with backoff, then `dead`. */
export type Handler = (context: HandlerContext) => unknown;

/** Per-source limits answered 429 with Retry-After. */
export interface SourceRateLimit {
  /** All deliveries to the source, whoever sends them. */
  perSource?: { points: number; durationSeconds: number };
  /** Deliveries from one client IP (one /64 for IPv6). */
  perClientIp?: { points: number; durationSeconds: number };
}

/**
 * One source (`/webhooks/<name>`): a provider scheme, Hookbox's own keys below, and the
 * provider's settings (`secrets`, `authTokens`, ...: docs/providers.md).
 */
export interface SourceDefinition {
  provider: string;
  /** `async` (default): answer once stored, handlers run in the worker. `sync`: run them first, 500 on failure. */
  mode?: 'async' | 'sync';
  /** Default 1 MiB; larger bodies get 413. */
  maxBodyBytes?: number;
  /** The URL the provider calls, for schemes that sign it (Twilio) behind a proxy. */
  publicUrl?: string;
  /** IPv4/IPv6 addresses and CIDR ranges; others get 403. */
  allowlist?: string[];
  /** Take the client IP from the last X-Forwarded-For entry (only behind one proxy you run). */
  trustProxy?: boolean;
  /** Request headers over this many bytes get 431; default 16 KiB. */
  maxHeaderBytes?: number;
  rateLimit?: SourceRateLimit;
  /** Ordering per key: events about one object run in order, one at a time (docs/ordering.md). */
  ordering?: OrderingDefinition;
  /** Forward its events to HTTP endpoints of your app (docs/destinations.md). */
  destinations?: DestinationDefinition[];
  [setting: string]: unknown;
}

/** One destination as written in config; validated strictly at start-up (docs/destinations.md has every key). */
export interface DestinationDefinition {
  name: string;
  url: string;
  signingSecret: string;
  types?: string[];
  timeoutMs?: number;
  headers?: Record<string, string>;
  passHeaders?: string[];
  concurrency?: number;
  ratePerSecond?: number;
  maxAttempts?: number;
  backoff?: { baseDelayMs?: number; maxDelayMs?: number };
  allowPrivateNetwork?: boolean;
}

export interface WorkerSettings {
  /** Run the background worker on start() (default true). */
  enabled?: boolean;
  leaseMs?: number;
  batchSize?: number;
  concurrency?: number;
  pollIntervalMs?: number;
  handlerTimeoutMs?: number;
  workerId?: string;
}

export interface RetrySettings {
  /** Attempts before an event is dead, the first try included (default 5). */
  maxAttempts?: number;
  /** The cap of the first retry's delay (default 10 s); each retry doubles it, with full jitter. */
  baseDelayMs?: number;
  /** No delay exceeds this (default 6 h). */
  maxDelayMs?: number;
}

export interface AdminSettings {
  /** Full access to the admin API and the dashboard. */
  token?: string | null;
  /** Read-only access: every GET, no action. */
  readOnlyTokens?: readonly string[];
  /** Only for POST /api/cron/webhook-maintenance (external schedulers). */
  cronSecret?: string | null;
  /** Serve /metrics without a token (only where the network already limits who can scrape). */
  metricsPublic?: boolean;
}

/** The options of `createHookbox`. */
export interface HookboxOptions {
  /** Unset (or undefined, as `process.env.DATABASE_URL` may be): SQLite at ./data/hookbox.db. */
  store?: StoreUrl | undefined;
  sources: Record<string, SourceDefinition>;
  /** handlers[source][eventType]; `*` matches any source or type, and runs beside the specific handlers. */
  handlers?: Record<string, Record<string, Handler>>;
  retry?: RetrySettings;
  worker?: WorkerSettings;
  /** Default: silent. `createLogger()` gives Hookbox's redacting pino logger. */
  logger?: Logger;
  /** Where rate-limit counters live: `memory` (default, one process) or `postgres` (several). */
  rateLimit?: { store?: 'memory' | 'postgres'; databaseUrl?: string };
  /** Per-handler circuit breakers (default: 5 consecutive failures open one for 30 s); false turns them off. */
  circuitBreaker?: Partial<CircuitBreakerSettings> | false;
  /** Headers never stored, JSON paths masked, sources whose stored bodies are redacted. */
  redaction?: RedactionSettings;
  /** Apply migrations on start() (default true). */
  migrate?: boolean;
  /** Health thresholds, alert sinks, maintenance schedule (docs/operations.md). */
  monitor?: MonitoringOptions;
  /** Tokens for the admin API, /metrics and the dashboard; without any, they answer 401. */
  admin?: AdminSettings;
  /** The dashboard at /dashboard, served when `admin.token` is set; `enabled: false` turns it off. */
  dashboard?: { enabled?: boolean; sessionTtlMinutes?: number };
  /**
   * The delivery worker that forwards to the sources' `destinations` (docs/destinations.md):
   * `leaseMs` (default 30000) and `pollIntervalMs` (default 1000).
   */
  delivery?: { leaseMs?: number; pollIntervalMs?: number };
}

/** What the host knows about the connection a request came over. */
export interface ConnectionInfo {
  /** The socket's peer address, for source allowlists and per-IP rate limits. */
  remoteAddress?: string;
}

export interface EventFilter {
  source?: string;
  provider?: string;
  status?: EventStatus | EventStatus[];
  eventType?: string;
  /** receivedAt >= since (epoch ms). */
  since?: number;
  /** receivedAt < until (epoch ms). */
  until?: number;
  /** An event id or a dedupe key, matched exactly. */
  search?: string;
}

export interface ListEventsQuery extends EventFilter {
  /** Page size, 1..1000. */
  limit: number;
  /** `nextCursor` of the previous page; pages go newest first. */
  cursor?: string;
}

export interface EventPage {
  events: HookboxEventSummary[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export interface RecordEventInput {
  source: string;
  provider: string;
  dedupeKey: string;
  eventType: string;
  body: Buffer | string;
  headers?: Record<string, string>;
}

export type RecordOutcome = 'new' | 'duplicate' | 'already_processed';

export interface RetryOutcome {
  success: boolean;
  /** Why it did not run, or what the handler threw. */
  error?: string;
  event: HookboxEvent | null;
}

export interface DuplicateBodyGroup {
  source: string;
  bodySha256: string;
  count: number;
  eventIds: string[];
  dedupeKeys: string[];
}

export interface EventStatistics {
  total: number;
  byStatus: Record<EventStatus, number>;
  byProvider: Record<string, number>;
  byType: Record<string, number>;
  oldestPending: { id: string; source: string; eventType: string; receivedAt: number } | null;
}

/** Inspect and act on stored events (the admin API and the CLI use the same operations). */
export interface HookboxEvents {
  /** Record an event outside HTTP, deduplicated like a delivery. */
  recordEvent(input: RecordEventInput): Promise<{ id: string; outcome: RecordOutcome }>;
  /** False for an event already processed (it is not updated). */
  markProcessed(id: string): Promise<boolean>;
  /** Count a failed attempt made outside the worker; schedules the retry (or `dead`). */
  markFailed(id: string, error: string): Promise<HookboxEvent | null>;
  isProcessed(source: string, dedupeKey: string): Promise<boolean>;
  /** Run `handler` on the event now, under a lease; a processed event is not retried. */
  retryEvent(id: string, handler: (event: HookboxEvent, payload: unknown) => unknown): Promise<RetryOutcome>;
  /** Put events back in the queue for the workers; returns how many. */
  requeueEvents(filter: EventFilter & { ids?: string[] }): Promise<number>;
  listEvents(query: ListEventsQuery): Promise<EventPage>;
  countEvents(filter: EventFilter): Promise<number>;
  /** Failed events whose backoff has passed. */
  getFailedEventsForRetry(limit?: number): Promise<HookboxEventSummary[]>;
  /** The event with its attempts, oldest first. */
  getEvent(id: string): Promise<{ event: HookboxEvent; attempts: EventAttempt[] } | null>;
  /** One body stored under several dedupe keys (a sender minting new ids for one event). */
  findDuplicates(limit?: number): Promise<DuplicateBodyGroup[]>;
  /** Events delivered more than once. */
  listRedelivered(limit?: number): Promise<HookboxEventSummary[]>;
  /** Delete processed events older than `days`; returns how many. */
  cleanupOldEvents(days: number): Promise<number>;
  bulkMarkProcessed(ids: string[]): Promise<number>;
  deleteEvent(id: string): Promise<boolean>;
  getStatistics(): Promise<EventStatistics>;
}

/**
 * A Hookbox inside an application. `createHookbox` opens nothing: the store is opened, migrated
 * and the worker started by `start()` or, failing that, by the first request.
 */
export interface Hookbox {
  /**
   * The web-standard handler (Next.js route handlers, Hono, Bun, Deno): POST /webhooks/:source
   * and /api/webhooks/:source, /healthz, /readyz, the admin API (/api/admin/*), /metrics and the
   * dashboard (/dashboard). Bound: `export const POST = hookbox.fetch` works.
   */
  fetch(request: Request, connection?: ConnectionInfo): Promise<Response>;
  /** Run the receive pipeline for one source (when the host routes by itself). */
  receive(request: Request, source: string, connection?: ConnectionInfo): Promise<Response>;
  /** Register a handler for a source and an event type (`*` for any; it runs beside specific ones). */
  on(source: string, eventType: string, handler: Handler): Hookbox;
  /** Validate, open and migrate the store, start the worker. Idempotent; a failed start is retried by the next call. */
  start(): Promise<void>;
  /** Stop the worker (finishing or releasing in-flight events) and close the store. */
  stop(graceMs?: number): Promise<void>;
  /** The event operations (open the store first: `await hookbox.start()`). */
  readonly events: HookboxEvents;
  /** Destinations and their deliveries: list, pause, resume, enable, retry, replay (docs/destinations.md). */
  readonly destinations: HookboxDestinations;
  /** The health report: status, checks, alerts, recommendations, circuit breakers (cached 30 s unless fresh). */
  checkHealth(options?: { windowMinutes?: number; fresh?: boolean }): Promise<HealthReport>;
  /** Evaluate health now and send the alert notices that are due to the configured sinks. */
  evaluateAndNotify(): Promise<{ report: HealthReport; notices: NotifyResult }>;
}
