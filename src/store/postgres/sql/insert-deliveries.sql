-- The deliveries of new events, written in the transaction that recorded them (record-events.sql
-- runs first): one pending row per (event, matching destination), due now. Parallel arrays, one
-- element per delivery. Wakes delivery workers of every process (same channel as new events).
WITH t AS (SELECT coalesce($4::timestamptz, now()) AS now),
created AS (
  INSERT INTO deliveries (event_id, source, destination, status, next_attempt_at, created_at, updated_at)
  SELECT i.event_id, i.source, i.destination, 'pending', t.now, t.now, t.now
  FROM unnest($1::text[], $2::text[], $3::text[]) AS i (event_id, source, destination), t
  ON CONFLICT (event_id, destination) DO NOTHING
  RETURNING id
)
SELECT count(*) AS count, (SELECT pg_notify($5::text, '') FROM created LIMIT 1) IS NOT NULL AS woken
FROM created
