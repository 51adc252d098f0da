-- One (source, dedupe_key) group of a group-commit batch; the caller runs this for every
-- group inside one IMMEDIATE transaction. A duplicate only counts the delivery.
INSERT INTO events (
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at,
  received_at, delivery_count, last_delivery_at, headers, body, body_sha256, updated_at
) VALUES (
  @id, @source, @provider, @dedupeKey, @eventType, 'pending', 0, @receivedAt,
  @receivedAt, @deliveryCount, @lastDeliveryAt, @headers, @body, @bodySha256, @now
)
ON CONFLICT (source, dedupe_key) DO UPDATE SET
  delivery_count = events.delivery_count + excluded.delivery_count,
  last_delivery_at = max(events.last_delivery_at, excluded.last_delivery_at),
  updated_at = excluded.updated_at
RETURNING id, status, delivery_count
