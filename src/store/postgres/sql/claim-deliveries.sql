-- Claim due deliveries under a lease, each destination from its own queue ($2/$3 name it, $4 is
-- how many it can take now), so one destination's backlog never starves another's claims.
-- Paused and disabled destinations (destination_states) are left alone. Within a destination,
-- oldest due first, then by event id: receipt order. SKIP LOCKED lets concurrent claimers pass
-- over each other's rows; each claim increments claim_token, which fences everything after.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
wanted AS (
  SELECT w.source, w.destination, w.lim
  FROM unnest($2::text[], $3::text[], $4::integer[]) AS w (source, destination, lim)
  WHERE w.lim > 0
    AND NOT EXISTS (
      SELECT 1 FROM destination_states s
      WHERE s.source = w.source AND s.name = w.destination AND s.state <> 'active'
    )
),
claimable AS (
  SELECT c.id
  FROM wanted w
  CROSS JOIN t
  CROSS JOIN LATERAL (
    SELECT d.id
    FROM deliveries d
    WHERE d.source = w.source
      AND d.destination = w.destination
      AND d.status IN ('pending', 'failed')
      AND d.next_attempt_at <= t.now
      -- Ordering (docs/ordering.md): an ordered event's deliveries wait while it waits behind an
      -- earlier event of its key, or inside its reorder window, so a destination gets a key's
      -- events in order. A primary-key probe; unordered events never match it.
      AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.id = d.event_id AND e.ordering_key IS NOT NULL
          AND (e.status = 'waiting' OR (e.status = 'pending' AND e.attempts = 0 AND e.next_attempt_at > t.now))
      )
    ORDER BY d.next_attempt_at, d.event_id
    LIMIT w.lim
    FOR UPDATE OF d SKIP LOCKED
  ) c
)
UPDATE deliveries d SET
  status = 'processing',
  locked_by = $5,
  locked_at = t.now,
  locked_until = t.now + $6::bigint * interval '1 millisecond',
  attempts = d.attempts + 1,
  claim_token = d.claim_token + 1,
  updated_at = t.now
FROM claimable c, t, events e, event_bodies b
WHERE d.id = c.id AND e.id = d.event_id AND b.event_id = d.event_id
RETURNING
  d.id, d.event_id, d.source, d.destination, d.status, d.attempts, d.claim_token, d.next_attempt_at,
  d.locked_by, d.locked_at, d.locked_until, d.last_status_code, d.last_error, d.created_at,
  d.updated_at, d.finished_at, e.event_type, e.received_at, e.ordering_key, b.headers, b.body
