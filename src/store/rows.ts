import { StoreRowRefusedError, StoreUnavailableError } from '../errors.ts';
import type {
  ArchivableEvent,
  Attempt,
  AttemptOutcome,
  ClaimedEvent,
  EventStatus,
  EventSummary,
  StoredEvent,
} from './types.ts';
import { eventStatuses } from './types.ts';

/**
 * Row mapping shared by both adapters. SQLite hands back epoch-ms integers and JSON text;
 * PostgreSQL hands back Dates, parsed jsonb and int8 as strings. Everything above the port
 * sees one shape.
 */

type Time = number | Date | string;

/** A summary row as both engines return it (snake_case columns). */
export interface EventSummaryRow {
  id: string;
  source: string;
  provider: string;
  dedupe_key: string;
  event_type: string;
  status: string;
  attempts: number | string;
  next_attempt_at: Time | null;
  locked_until: Time | null;
  locked_by: string | null;
  locked_at: Time | null;
  received_at: Time;
  delivery_count: number | string;
  last_delivery_at: Time;
  processed_at: Time | null;
  last_error: string | null;
  updated_at: Time;
  /** Selected where a caller needs it (get, claims): ordered events only. */
  ordering_key?: string | null;
}

/** An event row joined with its body row. */
export interface EventRow extends EventSummaryRow {
  headers: string | Record<string, string>;
  body: Buffer;
  body_sha256: string;
}

export interface ClaimedEventRow extends EventRow {
  claim_token: number | string;
}

export interface AttemptRow {
  id: number | string;
  event_id: string;
  attempt_number: number | string;
  worker_id: string;
  started_at: Time;
  finished_at: Time;
  duration_ms: number | string;
  outcome: string;
  error: string | null;
}

export function toMillis(value: Time): number {
  if (value instanceof Date) return value.getTime();
  return Number(value);
}

export function toMillisOrNull(value: Time | null | undefined): number | null {
  return value === null || value === undefined ? null : toMillis(value);
}

export function toDate(ms: number): Date;
export function toDate(ms: number | null | undefined): Date | null;
export function toDate(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms);
}

export function mapEventSummaryRow(row: EventSummaryRow): EventSummary {
  return {
    id: row.id,
    source: row.source,
    provider: row.provider,
    dedupeKey: row.dedupe_key,
    eventType: row.event_type,
    status: row.status as EventStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: toMillisOrNull(row.next_attempt_at),
    lockedUntil: toMillisOrNull(row.locked_until),
    lockedBy: row.locked_by,
    lockedAt: toMillisOrNull(row.locked_at),
    receivedAt: toMillis(row.received_at),
    deliveryCount: Number(row.delivery_count),
    lastDeliveryAt: toMillis(row.last_delivery_at),
    processedAt: toMillisOrNull(row.processed_at),
    lastError: row.last_error,
    updatedAt: toMillis(row.updated_at),
    ...(row.ordering_key != null ? { orderingKey: row.ordering_key } : {}),
  };
}

export function mapEventRow(row: EventRow): StoredEvent {
  return {
    ...mapEventSummaryRow(row),
    headers:
      typeof row.headers === 'string' ? (JSON.parse(row.headers) as Record<string, string>) : row.headers,
    body: row.body,
    bodySha256: row.body_sha256,
  };
}

export function mapClaimedEventRow(row: ClaimedEventRow): ClaimedEvent {
  return { ...mapEventRow(row), claimToken: Number(row.claim_token) };
}

/** An event row of list-finished-events, with its scrub time (migration 002). */
export function mapArchivableRow(row: EventRow & { body_scrubbed_at?: Time | null }): ArchivableEvent {
  return { ...mapEventRow(row), bodyScrubbedAt: toMillisOrNull(row.body_scrubbed_at) };
}

export function mapAttemptRow(row: AttemptRow): Attempt {
  return {
    id: Number(row.id),
    eventId: row.event_id,
    attemptNumber: Number(row.attempt_number),
    workerId: row.worker_id,
    startedAt: toMillis(row.started_at),
    finishedAt: toMillis(row.finished_at),
    durationMs: Number(row.duration_ms),
    outcome: row.outcome as AttemptOutcome,
    error: row.error,
  };
}

/** Claims come back from UPDATE ... RETURNING in no promised order: put them in claim order. */
export function sortByClaimOrder<E extends StoredEvent>(events: E[]): E[] {
  return events.sort(
    (a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** A count per status with every status present, so callers never test for a missing key. */
export function emptyStatusCounts(): Record<EventStatus, number> {
  return Object.fromEntries(eventStatuses.map((s) => [s, 0])) as Record<EventStatus, number>;
}

/** One (status, provider, event_type) group of the summarize-events statement. */
export interface EventGroupRow {
  status: string;
  provider: string;
  event_type: string;
  count: number | string;
  attempts: number | string | null;
  extra_deliveries: number | string | null;
}

/** Fold grouped counts into totals per status, provider and type. */
export function foldEventGroups(rows: EventGroupRow[]) {
  const byStatus = emptyStatusCounts();
  const byProvider: Record<string, number> = {};
  const byType: Record<string, number> = {};
  let total = 0;
  let attempts = 0;
  let extraDeliveries = 0;
  for (const row of rows) {
    const count = Number(row.count);
    total += count;
    attempts += Number(row.attempts ?? 0);
    extraDeliveries += Number(row.extra_deliveries ?? 0);
    byStatus[row.status as EventStatus] = (byStatus[row.status as EventStatus] ?? 0) + count;
    byProvider[row.provider] = (byProvider[row.provider] ?? 0) + count;
    byType[row.event_type] = (byType[row.event_type] ?? 0) + count;
  }
  return { total, byStatus, byProvider, byType, attempts, extraDeliveries };
}

/** Samples are fetched newest first (so the cap keeps recent ones) and reported ascending. */
export function sortSamples(values: Iterable<number>): number[] {
  return Array.from(values, Number).sort((a, b) => a - b);
}

export function normalizeStatuses(status: EventStatus | EventStatus[] | undefined): EventStatus[] | null {
  if (status === undefined) return null;
  return Array.isArray(status) ? status : [status];
}

/** Keep the order the caller gave, listing only the ids the database reported. */
export function keepInputOrder(ids: string[], reported: Iterable<string>): string[] {
  const set = new Set(reported);
  return ids.filter((id, index) => set.has(id) && ids.indexOf(id) === index);
}

/** The given claims the database reported as applied (id and token both), in the caller's order, once each. */
export function keepAppliedClaims<C extends { eventId: string; token: number }>(
  claims: C[],
  reported: Iterable<{ id: string; claim_token: number | string }>,
): C[] {
  const applied = new Set<string>();
  for (const row of reported) applied.add(`${row.id}\u0000${Number(row.claim_token)}`);
  const seen = new Set<string>();
  return claims.filter((claim) => {
    const key = `${claim.eventId}\u0000${claim.token}`;
    if (!applied.has(key) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One verdict per event: a repeated event id in one call keeps its first verdict. */
export function firstPerEvent<R extends { eventId: string }>(results: R[]): R[] {
  const seen = new Set<string>();
  return results.filter((r) => !seen.has(r.eventId) && seen.add(r.eventId));
}

/**
 * A row the database refused (its data, not the connection): the committer answers 400 for
 * that delivery alone and records the rest of the batch without it.
 */
export function rowRefused(engine: 'SQLite' | 'PostgreSQL', cause: unknown): StoreRowRefusedError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreRowRefusedError(
    `${engine} refused to store this delivery (${reason}); nothing of it was stored. The event id, type or body cannot be stored as given: check what the provider sent.`,
    { cause },
  );
}

/**
 * Wrap an engine failure so the HTTP layer answers 503 and the provider retries. The message
 * says what was attempted and what to check; the engine's own error stays as `cause`.
 */
export function storeUnavailable(
  engine: 'SQLite' | 'PostgreSQL',
  action: string,
  cause: unknown,
): StoreUnavailableError | StoreRowRefusedError {
  if (cause instanceof StoreUnavailableError || cause instanceof StoreRowRefusedError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const advice =
    engine === 'PostgreSQL'
      ? 'check that PostgreSQL is reachable and that migrate() has run'
      : 'check that the database file is writable, the disk has space, and that migrate() has run';
  return new StoreUnavailableError(`The ${engine} store could not ${action} (${reason}): ${advice}.`, {
    cause,
  });
}
