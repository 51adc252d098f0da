-- The event with its body and attempts (no foreign keys: see migration 003).
WITH gone AS (DELETE FROM events WHERE id = $1 RETURNING id),
bodies AS (DELETE FROM event_bodies WHERE event_id IN (SELECT id FROM gone)),
attempts AS (DELETE FROM attempts WHERE event_id IN (SELECT id FROM gone)),
-- Destinations: the event's deliveries and their attempts go with it.
deliveries_gone AS (DELETE FROM deliveries WHERE event_id IN (SELECT id FROM gone) RETURNING id),
delivery_attempts_gone AS (
  DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries_gone)
)
SELECT count(*) AS count FROM gone
