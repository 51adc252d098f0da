import type { DeliveryDetail, DestinationSummary } from '../../destinations/operations.ts';
import type { Destination } from '../../destinations/settings.ts';
import type { DeliveryAttempt, StoredDelivery } from '../../store/types.ts';
import { serializeBody } from './serialize.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * One destination for the admin API, the CLI and the dashboard. Never its signing secret, and of
 * its static `headers` only the names: their values are often credentials (an Authorization).
 */
export function serializeDestination(summary: DestinationSummary, destination?: Destination) {
  return {
    source: summary.source,
    name: summary.name,
    url: summary.url,
    types: [...summary.types],
    state: summary.state,
    stateReason: summary.stateReason,
    stateChangedAt: iso(summary.stateChangedAt),
    deliveries: summary.deliveries,
    backlog: summary.backlog,
    recentAttempts: summary.recentAttempts,
    recentSuccessRate: summary.recentSuccessRate,
    ...(destination
      ? {
          headerNames: Object.keys(destination.headers).sort(),
          passHeaders: [...destination.passHeaders],
          concurrency: destination.concurrency,
          ratePerSecond: destination.ratePerSecond ?? null,
          maxAttempts: destination.maxAttempts,
          timeoutMs: destination.timeoutMs,
        }
      : {}),
  };
}

export function serializeDelivery(delivery: StoredDelivery) {
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    source: delivery.source,
    destination: delivery.destination,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: iso(delivery.nextAttemptAt),
    lockedBy: delivery.lockedBy,
    lockedUntil: iso(delivery.lockedUntil),
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: iso(delivery.createdAt),
    updatedAt: iso(delivery.updatedAt),
    finishedAt: iso(delivery.finishedAt),
  };
}

export function serializeDeliveryAttempt(attempt: DeliveryAttempt) {
  const excerpt = serializeBody(attempt.responseExcerpt);
  return {
    attemptNumber: attempt.attemptNumber,
    workerId: attempt.workerId,
    outcome: attempt.outcome,
    startedAt: iso(attempt.startedAt),
    durationMs: attempt.durationMs,
    statusCode: attempt.statusCode,
    errorCode: attempt.errorCode,
    error: attempt.error,
    responseExcerpt: excerpt.body,
    responseExcerptEncoding: excerpt.bodyEncoding,
  };
}

/** A delivery and its attempts, oldest first (the response excerpt as text, or base64 when not UTF-8). */
export function serializeDeliveryDetail(detail: DeliveryDetail) {
  return {
    delivery: serializeDelivery(detail.delivery),
    attempts: detail.attempts.map(serializeDeliveryAttempt),
  };
}
