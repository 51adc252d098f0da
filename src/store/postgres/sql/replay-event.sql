-- Deliver event $1 again to destinations $2 of its source: each delivery is created, or reset
-- to pending (attempts 0, due now) unless it is being attempted right now. A finished event
-- (processed, ignored, or dead only through its deliveries) goes back to delivering.
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
  RETURNING id
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
SELECT (SELECT count(*) FROM event) AS found, (SELECT count(*) FROM upserted) AS upserted,
  (SELECT count(*) FROM woken) AS woken
