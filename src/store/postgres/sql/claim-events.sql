-- Take up to $2 due events under a lease. SKIP LOCKED lets concurrent claimers pass over each
-- other's rows instead of queueing on them, so no two workers ever hold the same event.
-- $5 lists sources not to claim (an empty array excludes nothing).
WITH claimable AS (
  SELECT id
  FROM events
  WHERE status IN ('pending', 'failed')
    AND next_attempt_at <= $1
    AND source <> ALL ($5::text[])
  ORDER BY next_attempt_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE events e SET
  status = 'processing',
  locked_by = $3,
  locked_at = $1,
  locked_until = $4,
  attempts = e.attempts + 1,
  updated_at = $1
FROM claimable c
WHERE e.id = c.id
RETURNING
  e.id, e.source, e.provider, e.dedupe_key, e.event_type, e.status, e.attempts,
  e.next_attempt_at, e.locked_until, e.locked_by, e.locked_at, e.received_at, e.delivery_count,
  e.last_delivery_at, e.processed_at, e.last_error, e.headers, e.body, e.body_sha256,
  e.updated_at
