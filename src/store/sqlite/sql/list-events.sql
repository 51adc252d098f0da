-- Newest first by id (a ULID, so by receive time); the cursor is the last id of the previous
-- page. Absent filters are bound as NULL.
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  body_sha256, updated_at
FROM events
WHERE (@source IS NULL OR source = @source)
  AND (@provider IS NULL OR provider = @provider)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventType IS NULL OR event_type = @eventType)
  AND (@since IS NULL OR received_at >= @since)
  AND (@until IS NULL OR received_at < @until)
  AND (@search IS NULL OR id = @search OR dedupe_key = @search)
  AND (@cursor IS NULL OR id < @cursor)
ORDER BY id DESC
LIMIT @limit
