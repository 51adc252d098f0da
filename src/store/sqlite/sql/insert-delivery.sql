-- One pending delivery of a new event to one matching destination, due now; run by
-- recordEvents in the transaction that records the event.
INSERT INTO deliveries (event_id, source, destination, status, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, 'pending', ?, ?, ?)
ON CONFLICT (event_id, destination) DO NOTHING
