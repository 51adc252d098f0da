-- The safety net for verdicts that did not see each other's commit (a handler verdict and a
-- delivery's, or two deliveries' on different processes): delivering events whose deliveries
-- all succeeded become processed, those with a dead delivery dead. Walks `delivering` events
-- in id order after $2, $3 at a time; returns how many it settled and the last id looked at.
-- Unordered events only: an ordered one settles under its key's lock, so its key's next event
-- is promoted in the same transaction (settle-events.sql, ordered).
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
candidates AS (
  SELECT e.id FROM events e
  WHERE e.status = 'delivering' AND e.id > $2 AND e.ordering_key IS NULL
  ORDER BY e.id
  LIMIT $3
),
summary AS (
  SELECT c.id,
    CASE
      WHEN bool_or(d.status = 'dead') THEN 'dead'
      WHEN bool_and(d.status = 'succeeded') THEN 'processed'
      ELSE 'delivering'
    END AS status
  FROM candidates c
  JOIN deliveries d ON d.event_id = c.id
  GROUP BY c.id
),
settled AS (
  UPDATE events e SET
    status = s.status,
    processed_at = CASE WHEN s.status = 'processed' THEN t.now ELSE e.processed_at END,
    last_error = CASE WHEN s.status = 'dead' THEN 'a delivery of this event is dead' ELSE NULL END,
    updated_at = t.now
  FROM summary s, t
  WHERE e.id = s.id AND s.status <> 'delivering' AND e.status = 'delivering'
  RETURNING e.id
)
SELECT (SELECT count(*) FROM settled) AS count, (SELECT max(id) FROM candidates) AS last_id
