INSERT INTO delivery_attempts (
  delivery_id, attempt_number, worker_id, started_at, duration_ms, status_code, response_excerpt,
  error_code, error, outcome
) VALUES (
  @deliveryId, @attemptNumber, @workerId, @startedAt, @durationMs, @statusCode, @excerpt,
  @errorCode, @error, @outcome
)
