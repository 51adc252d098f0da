-- The attempt row of every hung handler requeued by requeue-stuck-processing (written first,
-- while the lock columns still say who held it). The attempt counts: a handler that always
-- hangs must still reach its attempt budget.
INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
SELECT
  id,
  attempts,
  coalesce(locked_by, 'unknown'),
  locked_at,
  @now,
  max(@now - locked_at, 0),
  'released',
  'requeued: worker ' || coalesce(locked_by, 'unknown') || ' was still processing past the stuck threshold'
FROM events
WHERE status = 'processing' AND locked_at < @lockedBefore
ORDER BY id
