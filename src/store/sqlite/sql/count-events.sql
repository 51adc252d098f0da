-- The filters of list-events.sql, counted.
WITH RECURSIVE sources (source) AS (
  SELECT (SELECT source FROM events WHERE @search IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
SELECT count(*) AS count
FROM events
WHERE (@source IS NULL OR source = @source)
  AND (@provider IS NULL OR provider = @provider)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventType IS NULL OR event_type = @eventType)
  AND (@sinceId IS NULL OR id >= @sinceId)
  AND (@untilId IS NULL OR id < @untilId)
  AND (@search IS NULL OR id = @search
       OR (source, dedupe_key) IN (SELECT source, @search FROM sources WHERE source IS NOT NULL))
