-- Ordering (docs/ordering.md): the blocked keys, each with its blocking head (a dead event of an
-- onDead block key not skipped) and how many events wait behind it. Dead rows are few: read
-- through events_dead (migration 003); one row per key, its earliest blocking head. INDEXED BY
-- with each index's own predicate, word for word: SQLite uses a partial index only then.
SELECT e.source, e.ordering_key, e.id, e.event_type, e.last_error, e.updated_at AS blocked_since,
  (SELECT count(*) FROM events w INDEXED BY events_ordering_queue
   WHERE w.source = e.source AND w.ordering_key = e.ordering_key
     AND w.ordering_key IS NOT NULL AND w.status IN ('pending', 'failed', 'waiting')
     AND w.status = 'waiting') AS waiting
FROM events e
WHERE e.status = 'dead' AND e.ordering_key IS NOT NULL
  AND e.ordering_on_dead = 'block' AND e.ordering_released_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM events d INDEXED BY events_ordering_live
    WHERE d.source = e.source AND d.ordering_key = e.ordering_key
      AND d.ordering_key IS NOT NULL AND d.status IN ('pending', 'failed', 'processing', 'delivering', 'dead')
      AND d.status = 'dead' AND d.ordering_on_dead = 'block' AND d.ordering_released_at IS NULL
      AND (d.ordered_at < e.ordered_at OR (d.ordered_at = e.ordered_at AND d.id < e.id))
  )
ORDER BY e.source, e.ordering_key
LIMIT @limit
