-- Deliver event $1 again to destinations $2 of its source: each delivery is created, or reset
-- to pending (attempts 0, due now) unless it is being attempted right now. A finished event
-- (processed, ignored, or dead only through its deliveries) goes back to delivering.
-- Returns the event's deliveries as this statement left them, newest first; no rows when the
-- event does not exist. Read afterwards instead, a worker woken by the NOTIFY may already have
-- claimed a replayed delivery, and the caller would not see what the replay did.
WITH t AS (SELECT coalesce($3::timestamptz, now()) AS now),
event AS (SELECT id, source, status FROM events WHERE id = $1),
upserted AS (
  INSERT INTO deliveries (event_id, source, destination, status, next_attempt_at, created_at, updated_at)
  SELECT ev.id, ev.source, n.name, 'pending', t.now, t.now, t.now
  FROM event ev, t, unnest($2::text[]) AS n (name)
  ON CONFLICT (event_id, destination) DO UPDATE SET
    status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, finished_at = NULL,
    updated_at = excluded.updated_at
  WHERE deliveries.status <> 'processing'
  RETURNING *
),
reopened AS (
  UPDATE events e SET status = 'delivering', last_error = NULL, updated_at = t.now
  FROM t
  WHERE e.id = $1
    AND EXISTS (SELECT 1 FROM upserted)
    AND (
      e.status IN ('processed', 'ignored')
      OR (
        e.status = 'dead'
        -- No attempt at all: an event only destinations took (forwardOnly), never handled.
        AND coalesce(
          (SELECT a.outcome FROM attempts a WHERE a.event_id = e.id ORDER BY a.id DESC LIMIT 1), 'ignored'
        ) IN ('processed', 'ignored')
      )
    )
    AND NOT EXISTS (
      SELECT 1 FROM deliveries o
      WHERE o.event_id = e.id AND o.status = 'dead' AND o.destination <> ALL ($2::text[])
    )
),
woken AS (SELECT pg_notify($4::text, '') FROM upserted LIMIT 1)
SELECT u.* FROM upserted u
-- woken is a plain SELECT: it runs only when read.
WHERE (SELECT count(*) FROM woken) >= 0
UNION ALL
-- The event's other deliveries (other destinations, or one being attempted right now).
SELECT d.* FROM deliveries d WHERE d.event_id = $1 AND d.id NOT IN (SELECT id FROM upserted)
ORDER BY id DESC
