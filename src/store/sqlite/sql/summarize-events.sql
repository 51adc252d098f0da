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
WHERE (@sinceId IS NULL OR id >= @sinceId)
  AND (@untilId IS NULL OR id < @untilId)
GROUP BY status, provider, event_type
