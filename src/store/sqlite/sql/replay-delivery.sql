-- Deliver an event again to one destination: create the delivery, or reset it to pending
-- (attempts 0, due now) unless it is being attempted right now.
INSERT INTO deliveries (event_id, source, destination, status, next_attempt_at, created_at, updated_at)
VALUES (@eventId, @source, @destination, 'pending', @now, @now, @now)
ON CONFLICT (event_id, destination) DO UPDATE SET
  status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, finished_at = NULL,
  updated_at = excluded.updated_at
WHERE deliveries.status <> 'processing'
