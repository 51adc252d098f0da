-- Ordering (docs/ordering.md): the blocked keys, each with its blocking head (a dead event of an
-- onDead block key not skipped), longest blocked first, and how many events wait behind it.
-- Dead rows are few: read through events_dead (migration 003).
SELECT DISTINCT ON (e.source, e.ordering_key)
  e.source, e.ordering_key, e.id, e.event_type, e.last_error, e.updated_at AS blocked_since,
  (SELECT count(*) FROM events w
   WHERE w.source = e.source AND w.ordering_key = e.ordering_key AND w.status = 'waiting') AS waiting
FROM events e
WHERE e.status = 'dead' AND e.ordering_key IS NOT NULL
  AND e.ordering_on_dead = 'block' AND e.ordering_released_at IS NULL
ORDER BY e.source, e.ordering_key, e.ordered_at, e.id
LIMIT $1
