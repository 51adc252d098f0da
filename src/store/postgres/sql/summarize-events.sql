-- Counts per (status, provider, type), folded in JS into the per-dimension totals; the window
-- on received_at is optional (NULL bounds = all events).
SELECT
  status,
  provider,
  event_type,
  count(*) AS count,
  sum(attempts) AS attempts,
  sum(delivery_count - 1) AS extra_deliveries
FROM events
WHERE ($1::timestamptz IS NULL OR received_at >= $1)
  AND ($2::timestamptz IS NULL OR received_at <= $2)
GROUP BY status, provider, event_type
