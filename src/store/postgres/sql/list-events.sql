-- Newest first by id (a ULID, so by receive time); the cursor ($8) is the last id of the
-- previous page. Received-time bounds arrive as id bounds ($5, $6: the lowest id a ULID made at
-- that time can have), so the primary key serves them. A search matches an id, or a dedupe key
-- under any source: the sources are walked through the (source, dedupe_key) index one by one
-- (a loose index scan), so no index on dedupe_key alone is needed. Absent filters are NULL;
-- the adapter runs this unnamed so PostgreSQL plans each call with its actual values.
WITH RECURSIVE sources AS (
  (SELECT source FROM events WHERE $7::text IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
FROM events
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR id >= $5)
  AND ($6::text IS NULL OR id < $6)
  AND ($7::text IS NULL OR id = $7
       OR (source, dedupe_key) IN (SELECT source, $7 FROM sources WHERE source IS NOT NULL))
  AND ($8::text IS NULL OR id < $8)
ORDER BY id DESC
LIMIT $9
