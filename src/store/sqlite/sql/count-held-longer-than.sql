-- Handlers still running long after they were claimed (stuck: a handler that never settles
-- keeps its event held). The few processing rows are read through events_held.
SELECT count(*) AS count
FROM events INDEXED BY events_held
WHERE status = 'processing' AND locked_at < @now - @ms
