-- Sync mode and manual retries: take one named event under a lease if no worker holds it and
-- it is pending, or failed and due (a failed event keeps its backoff unless @ignoreBackoff: an
-- operator's retry).
UPDATE events SET
  status = 'processing',
  locked_by = @workerId,
  locked_at = @now,
  locked_until = @lockedUntil,
  attempts = attempts + 1,
  claim_token = claim_token + 1,
  updated_at = @now
WHERE id = @id
  AND (status = 'pending' OR (status = 'failed' AND (next_attempt_at <= @now OR @ignoreBackoff)))
  -- Ordering (docs/ordering.md): a promoted head is held its reorder window (next_attempt_at).
  AND (ordering_key IS NULL OR next_attempt_at <= @now OR @ignoreBackoff)
RETURNING
  id, source, provider, dedupe_key, event_type, status, attempts, claim_token, next_attempt_at,
  locked_until, locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at,
  last_error, updated_at, ordering_key
