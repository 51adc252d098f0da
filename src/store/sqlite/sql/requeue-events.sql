-- Operator retry: a new retry cycle (attempts 0), due now. Events a worker holds are left
-- alone; last_error stays so the operator still sees why it failed before. Filters as in
-- list-events.sql.
WITH RECURSIVE sources (source) AS (
  SELECT (SELECT source FROM events WHERE @search IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
UPDATE events SET
  status = 'pending',
  attempts = 0,
  next_attempt_at = @now,
  processed_at = NULL,
  ordering_released_at = NULL,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE status <> 'processing'
  AND (@ids IS NULL OR id IN (SELECT value FROM json_each(@ids)))
  AND (@source IS NULL OR source = @source)
  AND (@provider IS NULL OR provider = @provider)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventType IS NULL OR event_type = @eventType)
  AND (@sinceId IS NULL OR id >= @sinceId)
  AND (@untilId IS NULL OR id < @untilId)
  AND (@search IS NULL OR id = @search
       OR (source, dedupe_key) IN (SELECT source, @search FROM sources WHERE source IS NOT NULL))
RETURNING source, ordering_key
