-- Take up to $2 due events under a lease. SKIP LOCKED lets concurrent claimers pass over each
-- other's rows instead of queueing on them, so no two workers ever hold the same event. Each
-- claim increments claim_token: everything the holder does later is fenced by it.
-- $1: the store's injected time, or NULL for the database clock. $5 lists sources not to claim.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
claimable AS (
  SELECT id
  FROM events, t
  WHERE status IN ('pending', 'failed')
    AND next_attempt_at <= t.now
    AND source <> ALL ($5::text[])
    -- Ordering (docs/ordering.md): skip an ordered row while its key's promotion runs (it holds
    -- the key's lock, sql/lock-ordering-keys.sql); taking the lock here keeps the promotion out
    -- until this claim commits. The CASE keeps unordered rows from ever evaluating it.
    AND CASE WHEN ordering_key IS NULL THEN true
             ELSE pg_try_advisory_xact_lock(hashtextextended('hookbox_ordering:' || source || ':' || ordering_key, 0))
        END
  ORDER BY next_attempt_at, id
  LIMIT $2
  FOR UPDATE OF events SKIP LOCKED
)
UPDATE events e SET
  status = 'processing',
  locked_by = $3,
  locked_at = t.now,
  locked_until = t.now + $4::bigint * interval '1 millisecond',
  attempts = e.attempts + 1,
  claim_token = e.claim_token + 1,
  updated_at = t.now
FROM claimable c, t, event_bodies b
WHERE e.id = c.id AND b.event_id = c.id
RETURNING
  e.id, e.source, e.provider, e.dedupe_key, e.event_type, e.status, e.attempts, e.claim_token,
  e.next_attempt_at, e.locked_until, e.locked_by, e.locked_at, e.received_at, e.delivery_count,
  e.last_delivery_at, e.processed_at, e.last_error, e.updated_at, e.ordering_key, b.headers, b.body, b.body_sha256
