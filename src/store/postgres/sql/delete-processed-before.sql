-- Retention: finished events processed before $1, oldest events first (by id: the primary key
-- serves the walk), at most $2 per call (NULL is no limit), with their bodies and attempts.
WITH doomed AS (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < $1
  ORDER BY id
  LIMIT $2
),
gone AS (DELETE FROM events WHERE id IN (SELECT id FROM doomed) RETURNING id),
bodies AS (DELETE FROM event_bodies WHERE event_id IN (SELECT id FROM gone)),
attempts AS (DELETE FROM attempts WHERE event_id IN (SELECT id FROM gone)),
-- Destinations: the event's deliveries and their attempts go with it.
deliveries_gone AS (DELETE FROM deliveries WHERE event_id IN (SELECT id FROM gone) RETURNING id),
delivery_attempts_gone AS (
  DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries_gone)
)
SELECT count(*) AS count FROM gone
