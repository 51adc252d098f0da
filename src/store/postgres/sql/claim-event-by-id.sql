-- Sync mode and manual retries: take one named event under a lease if no worker holds it and
-- it is pending, or failed and due (a failed event keeps its backoff unless $5: an operator's
-- retry). A concurrent claimer
-- waits on the row lock and then finds it processing, so only one of them gets it.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now)
UPDATE events e SET
  status = 'processing',
  locked_by = $3,
  locked_at = t.now,
  locked_until = t.now + $4::bigint * interval '1 millisecond',
  attempts = e.attempts + 1,
  claim_token = e.claim_token + 1,
  updated_at = t.now
FROM t, event_bodies b
WHERE e.id = $2
  AND b.event_id = e.id
  AND (e.status = 'pending' OR (e.status = 'failed' AND (e.next_attempt_at <= t.now OR $5::boolean)))
  -- Ordering (docs/ordering.md, claim-events.sql): a promoted head is held its reorder window
  -- (next_attempt_at), and is not taken while its key's promotion runs.
  AND CASE WHEN e.ordering_key IS NULL THEN true
           ELSE (e.next_attempt_at <= t.now OR $5::boolean)
                AND pg_try_advisory_xact_lock(hashtextextended('hookbox_ordering:' || e.source || ':' || e.ordering_key, 0))
      END
RETURNING
  e.id, e.source, e.provider, e.dedupe_key, e.event_type, e.status, e.attempts, e.claim_token,
  e.next_attempt_at, e.locked_until, e.locked_by, e.locked_at, e.received_at, e.delivery_count,
  e.last_delivery_at, e.processed_at, e.last_error, e.updated_at, e.ordering_key, b.headers, b.body, b.body_sha256
