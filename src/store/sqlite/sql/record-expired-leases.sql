-- The attempt row of every expired lease, written before reclaim-expired-leases clears the
-- lock (SQLite's RETURNING shows only new values). Both run in one IMMEDIATE transaction.
INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
SELECT
  id,
  attempts,
  coalesce(locked_by, 'unknown'),
  coalesce(locked_at, @now),
  @now,
  max(@now - coalesce(locked_at, @now), 0),
  'lease_expired',
  'lease expired (worker ' || coalesce(locked_by, 'unknown') || ' stopped before finishing)'
FROM events
WHERE status = 'processing' AND locked_until <= @now
ORDER BY id
