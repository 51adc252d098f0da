-- Operator retry: a new retry cycle (attempts 0), due now. Events a worker holds are left
-- alone; last_error stays so the operator still sees why it failed before.
UPDATE events SET
  status = 'pending',
  attempts = 0,
  next_attempt_at = @now,
  processed_at = NULL,
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
  AND (@since IS NULL OR received_at >= @since)
  AND (@until IS NULL OR received_at < @until)
  AND (@search IS NULL OR id = @search OR dedupe_key = @search)
