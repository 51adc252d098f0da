-- The attempts row of one verdict, written only while its claim still holds the event (the same
-- fence finish-attempt.sql applies next, in the same transaction): the attempt number is the
-- held row's own, read before a release gives it back.
INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
SELECT id, attempts, @workerId, @startedAt, @finishedAt, @durationMs, @outcome, @error
FROM events
WHERE id = @eventId AND claim_token = @token AND status = 'processing'
