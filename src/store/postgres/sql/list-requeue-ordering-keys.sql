-- Ordering (docs/ordering.md): the keys of the ordered events requeue-events.sql is about to
-- requeue (the same filters, $1-$8), read first so the requeue can take their locks before any
-- row lock (lock-ordering-keys.sql).
WITH RECURSIVE sources AS (
  (SELECT source FROM events WHERE $7::text IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
SELECT DISTINCT source, ordering_key
FROM events
WHERE ordering_key IS NOT NULL
  AND ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR id >= $5)
  AND ($6::text IS NULL OR id < $6)
  AND ($7::text IS NULL OR id = $7
       OR (source, dedupe_key) IN (SELECT source, $7 FROM sources WHERE source IS NOT NULL))
  AND status <> 'processing'
  AND ($8::text[] IS NULL OR id = ANY ($8::text[]))
