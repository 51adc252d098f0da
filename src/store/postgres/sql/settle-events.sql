-- Settle these delivering events ($2): those whose deliveries all succeeded become processed,
-- those with a dead one dead. Each is checked again here: only what is still delivering and
-- settled by its deliveries changes. $3 says which: false, unordered events only (the sweep's
-- pages from list-delivering-events.sql, and a delivery worker's re-check of its events about
-- a second after their deliveries finished, so a verdict that raced another process's is
-- settled then rather than whenever the sweep comes by); true, ordered ones only, run inside
-- the transaction that holds their keys' locks, so their keys' promotion runs next
-- (docs/ordering.md).
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
summary AS (
  SELECT e.id,
    CASE
      WHEN bool_or(d.status = 'dead') THEN 'dead'
      WHEN bool_and(d.status = 'succeeded') THEN 'processed'
      ELSE 'delivering'
    END AS status
  FROM events e
  JOIN deliveries d ON d.event_id = e.id
  WHERE e.id = ANY ($2::text[]) AND e.status = 'delivering' AND (e.ordering_key IS NOT NULL) = $3::boolean
  GROUP BY e.id
)
UPDATE events e SET
  status = s.status,
  processed_at = CASE WHEN s.status = 'processed' THEN t.now ELSE e.processed_at END,
  last_error = CASE WHEN s.status = 'dead' THEN 'a delivery of this event is dead' ELSE NULL END,
  updated_at = t.now
FROM summary s, t
WHERE e.id = s.id AND s.status <> 'delivering' AND e.status = 'delivering'
RETURNING e.id
