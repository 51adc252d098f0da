-- Ordering (docs/ordering.md): after a change to some keys' events, make each key's head the
-- only runnable event of the key. Runs in the transaction that made the change, after
-- lock-ordering-keys.sql took the keys' locks, as its own statement: under READ COMMITTED it
-- then sees every committed claim and verdict of those keys. For one key:
--   an event processing or delivering (its deliveries to destinations remain: destinations get
--   a key's events in order too), or a dead head that blocks (onDead block, not skipped):
--   nothing runs;
--   else the earliest (ordered_at, id) of its pending/failed/waiting events is runnable:
--   waiting -> pending (failed once it has attempts), keeping next_attempt_at (a new event's
--   reorder window, a failed one's backoff);
--   every other pending/failed event of the key -> waiting.
-- The head is the first entry of events_ordering_queue; whether the key is stopped and which
-- events to demote come from events_ordering_live (migration 005): neither reads the key's
-- waiting events beyond its head. $1: now, $2/$3: sources/keys, $4/$5: the NOTIFY channels of event and delivery workers (a promoted event's deliveries are due).
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
keys AS (
  SELECT DISTINCT source, ordering_key FROM unnest($2::text[], $3::text[]) AS k (source, ordering_key)
),
heads AS (
  SELECT
    k.source,
    k.ordering_key,
    (SELECT e.id FROM events e
     WHERE e.source = k.source AND e.ordering_key = k.ordering_key
       AND e.status IN ('pending', 'failed', 'waiting')
     ORDER BY e.ordered_at, e.id
     LIMIT 1) AS head_id,
    EXISTS (SELECT 1 FROM events e
     WHERE e.source = k.source AND e.ordering_key = k.ordering_key
       AND e.status IN ('processing', 'delivering', 'dead')
       AND (e.status IN ('processing', 'delivering')
            OR (e.ordering_on_dead = 'block' AND e.ordering_released_at IS NULL))) AS stopped
  FROM keys k
),
targets AS (
  SELECT h.head_id AS id, true AS runnable FROM heads h WHERE h.head_id IS NOT NULL AND NOT h.stopped
  UNION ALL
  SELECT e.id, false
  FROM heads h
  JOIN events e ON e.source = h.source AND e.ordering_key = h.ordering_key AND e.status IN ('pending', 'failed')
  WHERE h.stopped OR e.id IS DISTINCT FROM h.head_id
),
moved AS (
  UPDATE events e SET
    status = CASE
      WHEN g.runnable THEN CASE WHEN e.attempts > 0 THEN 'failed' ELSE 'pending' END
      ELSE 'waiting'
    END,
    updated_at = t.now
  FROM targets g, t
  WHERE e.id = g.id
    AND CASE WHEN g.runnable THEN e.status = 'waiting' ELSE e.status IN ('pending', 'failed') END
  RETURNING e.id, e.status
),
woken AS (
  SELECT pg_notify($4::text, ''), pg_notify($5::text, '') FROM moved WHERE status <> 'waiting' LIMIT 1
)
SELECT
  (SELECT count(*) FROM moved WHERE status <> 'waiting') AS promoted,
  (SELECT count(*) FROM woken) AS woken
