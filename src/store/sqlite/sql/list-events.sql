-- Newest first by id (a ULID, so by receive time); the cursor is the last id of the previous
-- page. Received-time bounds arrive as id bounds (@sinceId, @untilId), so the primary key serves
-- them. A search matches an id, or a dedupe key under any source: the sources are walked
-- through the (source, dedupe_key) index one by one, so no index on dedupe_key alone is
-- needed. Absent filters are bound as NULL.
WITH RECURSIVE sources (source) AS (
  SELECT (SELECT source FROM events WHERE @search IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
FROM events
WHERE (@source IS NULL OR source = @source)
  AND (@provider IS NULL OR provider = @provider)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventType IS NULL OR event_type = @eventType)
  AND (@sinceId IS NULL OR id >= @sinceId)
  AND (@untilId IS NULL OR id < @untilId)
  AND (@search IS NULL OR id = @search
       OR (source, dedupe_key) IN (SELECT source, @search FROM sources WHERE source IS NOT NULL))
  AND (@cursor IS NULL OR id < @cursor)
ORDER BY id DESC
LIMIT @limit
