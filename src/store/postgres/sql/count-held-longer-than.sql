-- Handlers still running long after they were claimed (stuck: a handler that never settles
-- keeps its event held). The few processing rows are read through events_held.
SELECT count(*) AS count
FROM events
WHERE status = 'processing'
  AND locked_at < coalesce($1::timestamptz, now()) - $2::bigint * interval '1 millisecond'
