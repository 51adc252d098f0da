SELECT count(*) AS count
FROM events
WHERE (@source IS NULL OR source = @source)
  AND (@provider IS NULL OR provider = @provider)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventType IS NULL OR event_type = @eventType)
  AND (@since IS NULL OR received_at >= @since)
  AND (@until IS NULL OR received_at < @until)
  AND (@search IS NULL OR id = @search OR dedupe_key = @search)
