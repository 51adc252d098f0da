-- Manual completion of every listed event not processed yet, with a `manual` attempts row
-- each. An already processed event is not touched at all (its updated_at stays). A held
-- event's worker is fenced out: its verdict no longer finds the event processing.
WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now),
marked AS (
  UPDATE events e SET
    status = 'processed',
    processed_at = t.now,
    last_error = NULL,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = t.now
  FROM t
  WHERE e.id = ANY ($1::text[])
    AND e.status <> 'processed'
  RETURNING e.id, e.attempts, t.now AS now
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT id, attempts, 'manual', now, now, 0, 'processed', NULL FROM marked
)
SELECT id FROM marked
