-- Manual completion of every listed event not processed yet, with a `manual` attempts row
-- each. An already processed event is not touched at all (its updated_at stays).
WITH marked AS (
  UPDATE events SET
    status = 'processed',
    processed_at = $2,
    last_error = NULL,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = $2
  WHERE id = ANY ($1::text[])
    AND status <> 'processed'
  RETURNING id, attempts
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT id, attempts, 'manual', $2, $2, 0, 'processed', NULL FROM marked
)
SELECT id FROM marked
