-- Counts per (status, provider, type), folded in JS into the per-dimension totals; the window
-- on receive time is optional (NULL bounds = all events) and arrives as id bounds.
SELECT
  status,
  provider,
  event_type,
  count(*) AS count,
  sum(attempts) AS attempts,
  sum(delivery_count - 1) AS extra_deliveries
FROM events
WHERE ($1::text IS NULL OR id >= $1)
  AND ($2::text IS NULL OR id < $2)
GROUP BY status, provider, event_type
