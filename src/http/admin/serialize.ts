import type { Redaction } from '../../redaction.ts';
import type { Attempt, EventSummary, StoredEvent } from '../../store/types.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An event summary for JSON: times as ISO 8601. */
export function serializeEventSummary(event: EventSummary) {
  return {
    id: event.id,
    source: event.source,
    provider: event.provider,
    dedupeKey: event.dedupeKey,
    eventType: event.eventType,
    status: event.status,
    attempts: event.attempts,
    deliveryCount: event.deliveryCount,
    receivedAt: iso(event.receivedAt),
    lastDeliveryAt: iso(event.lastDeliveryAt),
    processedAt: iso(event.processedAt),
    nextAttemptAt: iso(event.nextAttemptAt),
    lockedBy: event.lockedBy,
    lockedUntil: iso(event.lockedUntil),
    lockedAt: iso(event.lockedAt),
    lastError: event.lastError,
    updatedAt: iso(event.updatedAt),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as JSON: UTF-8 text when it decodes as such, else base64 (bytes are never altered). */
export function serializeBody(bytes: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  try {
    return { body: utf8.decode(bytes), bodyEncoding: 'utf8' };
  } catch {
    return { body: bytes.toString('base64'), bodyEncoding: 'base64' };
  }
}

export function serializeAttempt(attempt: Attempt) {
  return {
    attemptNumber: attempt.attemptNumber,
    workerId: attempt.workerId,
    startedAt: iso(attempt.startedAt),
    finishedAt: iso(attempt.finishedAt),
    durationMs: attempt.durationMs,
    outcome: attempt.outcome,
    error: attempt.error,
  };
}

/**
 * One event in full, as the admin API, the dashboard and `hookbox events show` show it: the
 * headers through the Hookbox's one Redaction (signatures and credentials masked), the body
 * (UTF-8 text, or base64 when not text) and attempts.
 */
export function serializeEventDetail(event: StoredEvent, attempts: Attempt[], redaction: Redaction) {
  return {
    ...serializeEventSummary(event),
    bodySha256: event.bodySha256,
    headers: redaction.showableHeaders(event.headers),
    ...serializeBody(event.body),
    attempts: attempts.map(serializeAttempt),
  };
}
