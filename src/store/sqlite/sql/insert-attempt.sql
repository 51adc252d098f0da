INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
VALUES (@eventId, @attemptNumber, @workerId, @startedAt, @finishedAt, @durationMs, @outcome, @error)
