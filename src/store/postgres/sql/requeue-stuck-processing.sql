-- Hung handlers (auto-remediation): held in processing since before $1, lease or not. Back to
-- pending and due now, with a `released` attempts row naming the holder. The attempt still
-- counts: a handler that always hangs must reach its attempt budget.
WITH stuck AS (
  SELECT id, locked_by, locked_at
  FROM events
  WHERE status = 'processing' AND locked_at < $1
  ORDER BY id
  FOR UPDATE SKIP LOCKED
),
requeued AS (
  UPDATE events e SET
    status = 'pending',
    next_attempt_at = $2,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = $2
  FROM stuck s
  WHERE e.id = s.id
  RETURNING e.id, e.attempts, s.locked_by, s.locked_at
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id,
    attempts,
    coalesce(locked_by, 'unknown'),
    locked_at,
    $2,
    greatest(round(extract(epoch FROM $2::timestamptz - locked_at) * 1000), 0)::bigint,
    'released',
    'requeued: worker ' || coalesce(locked_by, 'unknown') || ' was still processing past the stuck threshold'
  FROM requeued
)
SELECT count(*) AS count FROM requeued
