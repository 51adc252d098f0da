-- Ordering (docs/ordering.md): after a change to some keys' events (@keys: a JSON array of
-- [source, key] pairs), make each key's head its only runnable event. The head is the earliest
-- (ordered_at, id) of the key's pending, failed and waiting events (the first entry of
-- events_ordering_queue); the key is stopped while an event of it is processing, delivering (its
-- deliveries to destinations remain: destinations get a key's events in order too) or a dead head
-- blocks it (onDead block, not skipped; events_ordering_live). Unless stopped, the head goes
-- waiting -> pending (failed once it has attempts), keeping next_attempt_at (a new event's
-- reorder window, a failed one's backoff); every other pending or failed event of the key goes
-- waiting.
-- A verdict write also names the keys its verdicts left (@takeKeys, same form; '[]' otherwise):
-- such a key's head, if it may run now (due, not of a source in @excludedSources), goes straight
-- to processing for @workerId under a lease, as claim-events.sql claims: the key's turn passes
-- to it in the commit that ended the last one, with no claim commit of its own.
-- The CTEs are materialised before any row changes, and none reads a key's waiting events beyond
-- its head. INDEXED BY with each index's own predicate, word for word: SQLite uses a partial
-- index only then.
WITH keys AS MATERIALIZED (
  SELECT DISTINCT value ->> 0 AS source, value ->> 1 AS ordering_key FROM json_each(@keys)
),
take_keys AS MATERIALIZED (
  SELECT DISTINCT value ->> 0 AS source, value ->> 1 AS ordering_key FROM json_each(@takeKeys)
),
head AS MATERIALIZED (
  SELECT
    k.source,
    k.ordering_key,
    (SELECT q.id FROM events q INDEXED BY events_ordering_queue
     WHERE q.source = k.source AND q.ordering_key = k.ordering_key
       AND q.ordering_key IS NOT NULL AND q.status IN ('pending', 'failed', 'waiting')
     ORDER BY q.ordered_at, q.id
     LIMIT 1) AS head_id,
    EXISTS (SELECT 1 FROM events l INDEXED BY events_ordering_live
     WHERE l.source = k.source AND l.ordering_key = k.ordering_key
       AND l.ordering_key IS NOT NULL AND l.status IN ('pending', 'failed', 'processing', 'delivering', 'dead')
       AND (l.status IN ('processing', 'delivering')
            OR (l.status = 'dead' AND l.ordering_on_dead = 'block' AND l.ordering_released_at IS NULL))) AS stopped,
    EXISTS (SELECT 1 FROM take_keys t WHERE t.source = k.source AND t.ordering_key = k.ordering_key) AS take
  FROM keys k
),
targets AS MATERIALIZED (
  -- The head, when it waits and may run; taken when its key passes its turn and it is due.
  SELECT
    h.head_id AS id,
    1 AS runnable,
    h.take AND x.next_attempt_at <= @now
      AND (@excludedSources IS NULL OR x.source NOT IN (SELECT value FROM json_each(@excludedSources))) AS taken
  FROM head h JOIN events x ON x.id = h.head_id
  WHERE NOT h.stopped AND x.status = 'waiting'
  UNION ALL
  -- Every other pending or failed event of the key.
  SELECT e.id, 0, 0 FROM head h JOIN events e INDEXED BY events_ordering_live
    ON e.source = h.source AND e.ordering_key = h.ordering_key
  WHERE e.ordering_key IS NOT NULL AND e.status IN ('pending', 'failed', 'processing', 'delivering', 'dead')
    AND e.status IN ('pending', 'failed')
    AND (h.stopped OR e.id IS NOT h.head_id)
)
UPDATE events SET
  status = CASE
    WHEN t.taken THEN 'processing'
    WHEN t.runnable THEN CASE WHEN attempts > 0 THEN 'failed' ELSE 'pending' END
    ELSE 'waiting'
  END,
  locked_by = CASE WHEN t.taken THEN @workerId ELSE locked_by END,
  locked_at = CASE WHEN t.taken THEN @now ELSE locked_at END,
  locked_until = CASE WHEN t.taken THEN @lockedUntil ELSE locked_until END,
  attempts = attempts + t.taken,
  claim_token = claim_token + t.taken,
  updated_at = @now
FROM targets t
-- By primary key: the few target ids, never a scan of the table (the join alone scans it).
WHERE events.id IN (SELECT id FROM targets) AND events.id = t.id
RETURNING
  id, source, provider, dedupe_key, event_type, status, attempts, claim_token, next_attempt_at,
  locked_until, locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at,
  last_error, updated_at, ordering_key
