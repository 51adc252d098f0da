-- A failed or dead delivery back to pending, due now, with a fresh attempt budget. Its event
-- goes back to delivering when it is dead only through its deliveries (its handlers' last
-- verdict was processed or ignored) and no other delivery of it is dead.
WITH t AS (SELECT coalesce($2::timestamptz, now()) AS now),
retried AS (
  UPDATE deliveries d SET
    status = 'pending', attempts = 0, next_attempt_at = t.now, finished_at = NULL, updated_at = t.now
  FROM t
  WHERE d.id = $1 AND d.status IN ('failed', 'dead')
  RETURNING d.*
),
reopened AS (
  UPDATE events e SET status = 'delivering', last_error = NULL, updated_at = t.now
  FROM retried r, t
  WHERE e.id = r.event_id
    AND e.status = 'dead'
    AND NOT EXISTS (
      SELECT 1 FROM deliveries o WHERE o.event_id = e.id AND o.id <> r.id AND o.status = 'dead'
    )
    -- No attempt at all: an event only destinations took (forwardOnly), never handled.
    AND coalesce(
      (SELECT a.outcome FROM attempts a WHERE a.event_id = e.id ORDER BY a.id DESC LIMIT 1), 'ignored'
    ) IN ('processed', 'ignored')
),
woken AS (SELECT pg_notify($3::text, '') FROM retried LIMIT 1)
SELECT r.*, (SELECT count(*) FROM woken) AS woken FROM retried r
