/**
 * Row mapping for deliveries, shared by both adapters (SQLite: epoch-ms integers, JSON text;
 * PostgreSQL: Dates, jsonb, int8 as strings).
 */
import { toMillis, toMillisOrNull } from './rows.ts';
import {
  type ClaimedDelivery,
  type DeliveryAttempt,
  type DeliveryAttemptOutcome,
  type DeliveryClaim,
  type DeliveryResult,
  type DeliveryStatus,
  type DestinationCounts,
  type DestinationState,
  type DestinationStateRecord,
  deliveryAttemptOutcomes,
  deliveryStatuses,
  type StoredDelivery,
} from './types.ts';

type Time = number | Date | string;

export interface DeliveryRow {
  id: number | string;
  event_id: string;
  source: string;
  destination: string;
  status: string;
  attempts: number | string;
  claim_token: number | string;
  next_attempt_at: Time;
  locked_by: string | null;
  locked_at: Time | null;
  locked_until: Time | null;
  last_status_code: number | string | null;
  last_error: string | null;
  created_at: Time;
  updated_at: Time;
  finished_at: Time | null;
}

export interface DeliveryPayloadRow {
  event_type: string;
  received_at: Time;
  ordering_key: string | null;
  headers: string | Record<string, string>;
  body: Buffer;
}

export interface DeliveryAttemptRow {
  id: number | string;
  delivery_id: number | string;
  attempt_number: number | string;
  worker_id: string;
  started_at: Time;
  duration_ms: number | string;
  status_code: number | string | null;
  response_excerpt: Buffer | null;
  error_code: string | null;
  error: string | null;
  outcome: string;
}

export interface DestinationStateRow {
  source: string;
  name: string;
  state: string;
  reason: string | null;
  changed_at: Time;
}

export interface DeliveryCountRow {
  kind: 'status' | 'attempt';
  source: string;
  destination: string;
  label: string;
  count: number | string;
}

function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

export function mapDeliveryRow(row: DeliveryRow): StoredDelivery {
  return {
    id: Number(row.id),
    eventId: row.event_id,
    source: row.source,
    destination: row.destination,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: toMillis(row.next_attempt_at),
    lockedBy: row.locked_by,
    lockedAt: toMillisOrNull(row.locked_at),
    lockedUntil: toMillisOrNull(row.locked_until),
    lastStatusCode: numberOrNull(row.last_status_code),
    lastError: row.last_error,
    createdAt: toMillis(row.created_at),
    updatedAt: toMillis(row.updated_at),
    finishedAt: toMillisOrNull(row.finished_at),
  };
}

export function mapClaimedDeliveryRow(row: DeliveryRow & DeliveryPayloadRow): ClaimedDelivery {
  return {
    ...mapDeliveryRow(row),
    claimToken: Number(row.claim_token),
    eventType: row.event_type,
    receivedAt: toMillis(row.received_at),
    orderingKey: row.ordering_key ?? null,
    headers: typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers,
    body: Buffer.from(row.body),
  };
}

export function mapDeliveryAttemptRow(row: DeliveryAttemptRow): DeliveryAttempt {
  return {
    id: Number(row.id),
    deliveryId: Number(row.delivery_id),
    attemptNumber: Number(row.attempt_number),
    workerId: row.worker_id,
    startedAt: toMillis(row.started_at),
    durationMs: Number(row.duration_ms),
    statusCode: numberOrNull(row.status_code),
    responseExcerpt: row.response_excerpt ? Buffer.from(row.response_excerpt) : Buffer.alloc(0),
    errorCode: row.error_code,
    error: row.error,
    outcome: row.outcome as DeliveryAttemptOutcome,
  };
}

export function mapDestinationStateRow(row: DestinationStateRow): DestinationStateRecord {
  return {
    source: row.source,
    name: row.name,
    state: row.state as DestinationState,
    reason: row.reason,
    changedAt: toMillis(row.changed_at),
  };
}

/**
 * Count rows (by status, attempts by outcome) folded into one entry per destination, every key
 * present; `succeeded` is the window's succeeded attempts (count-deliveries.sql).
 */
export function foldDeliveryCounts(rows: DeliveryCountRow[]): DestinationCounts[] {
  const byKey = new Map<string, DestinationCounts>();
  for (const row of rows) {
    const key = `${row.source}/${row.destination}`;
    let entry = byKey.get(key);
    if (!entry) {
      entry = {
        source: row.source,
        name: row.destination,
        byStatus: Object.fromEntries(deliveryStatuses.map((s) => [s, 0])) as Record<DeliveryStatus, number>,
        attemptsSince: Object.fromEntries(deliveryAttemptOutcomes.map((o) => [o, 0])) as Record<
          DeliveryAttemptOutcome,
          number
        >,
      };
      byKey.set(key, entry);
    }
    if (row.kind === 'status') entry.byStatus[row.label as DeliveryStatus] = Number(row.count);
    else entry.attemptsSince[row.label as DeliveryAttemptOutcome] = Number(row.count);
  }
  // Counting every delivery that ever succeeded would read them all: the window's successes.
  for (const entry of byKey.values()) entry.byStatus.succeeded = entry.attemptsSince.succeeded;
  return [...byKey.values()].sort((a, b) => a.source.localeCompare(b.source) || a.name.localeCompare(b.name));
}

/** The first verdict per delivery wins (a repeat in one batch is a caller's mistake, not a second attempt). */
export function firstPerDelivery<R extends DeliveryClaim>(results: R[]): R[] {
  const seen = new Set<number>();
  return results.filter((r) => {
    if (seen.has(r.deliveryId)) return false;
    seen.add(r.deliveryId);
    return true;
  });
}

/** An attempt record is required for every outcome but `released`: say so instead of writing a hole. */
export function requireAttempt(result: DeliveryResult) {
  if (result.outcome === 'released') return null;
  if (!result.attempt) {
    throw new Error(
      `delivery ${result.deliveryId}: a ${result.outcome} verdict needs its attempt record (startedAt, durationMs, statusCode, ...)`,
    );
  }
  return result.attempt;
}

/** Keep the claims the store reported as applied, in input order. */
export function keepAppliedDeliveryClaims(
  claims: DeliveryClaim[],
  rows: { id: number | string; claim_token: number | string }[],
): DeliveryClaim[] {
  const applied = new Set(rows.map((r) => `${Number(r.id)}#${Number(r.claim_token)}`));
  return claims.filter((c) => applied.has(`${c.deliveryId}#${c.token}`));
}

export const RESPONSE_EXCERPT_LIMIT = 1024;
