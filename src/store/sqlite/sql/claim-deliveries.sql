-- Claim up to @limit due deliveries of one destination under a lease (the caller runs this per
-- destination inside BEGIN IMMEDIATE, so one destination's backlog never starves another's
-- claims). A paused or disabled destination claims nothing. Oldest due first, then by event id:
-- receipt order. Each claim increments claim_token, which fences everything after.
UPDATE deliveries SET
  status = 'processing',
  locked_by = @workerId,
  locked_at = @now,
  locked_until = @lockedUntil,
  attempts = attempts + 1,
  claim_token = claim_token + 1,
  updated_at = @now
WHERE id IN (
  SELECT id FROM deliveries INDEXED BY deliveries_claimable
  WHERE source = @source
    AND destination = @destination
    AND status IN ('pending', 'failed')
    AND next_attempt_at <= @now
    -- Ordering (docs/ordering.md): an ordered event's deliveries wait while it waits behind an
    -- earlier event of its key, or inside its reorder window, so a destination gets a key's
    -- events in order. A primary-key probe; unordered events never match it.
    AND NOT EXISTS (
      SELECT 1 FROM events e
      WHERE e.id = deliveries.event_id AND e.ordering_key IS NOT NULL
        AND (e.status = 'waiting' OR (e.status = 'pending' AND e.attempts = 0 AND e.next_attempt_at > @now))
    )
  ORDER BY next_attempt_at, event_id
  LIMIT @limit
)
  AND NOT EXISTS (
    SELECT 1 FROM destination_states s
    WHERE s.source = @source AND s.name = @destination AND s.state <> 'active'
  )
RETURNING *
