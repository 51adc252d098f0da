SELECT
  e.id, e.source, e.provider, e.dedupe_key, e.event_type, e.status, e.attempts, e.next_attempt_at,
  e.locked_until, e.locked_by, e.locked_at, e.received_at, e.delivery_count, e.last_delivery_at,
  e.processed_at, e.last_error, e.updated_at, e.ordering_key, b.headers, b.body, b.body_sha256
FROM events e
JOIN event_bodies b ON b.event_id = e.id
WHERE e.id = @id
