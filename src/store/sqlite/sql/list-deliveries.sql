-- Deliveries newest first, each filter NULL or a value; @beforeId pages.
SELECT *
FROM deliveries
WHERE (@source IS NULL OR source = @source)
  AND (@destination IS NULL OR destination = @destination)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@eventId IS NULL OR event_id = @eventId)
  AND (@beforeId IS NULL OR id < @beforeId)
ORDER BY id DESC
LIMIT @limit
