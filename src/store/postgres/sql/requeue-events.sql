-- Operator retry: a new retry cycle (attempts 0), due now. Events a worker holds are left
-- alone; last_error stays so the operator still sees why it failed before. Filters as in
-- list-events.sql.
WITH RECURSIVE sources AS (
  (SELECT source FROM events WHERE $7::text IS NOT NULL ORDER BY source LIMIT 1)
  UNION ALL
  SELECT (SELECT e.source FROM events e WHERE e.source > s.source ORDER BY e.source LIMIT 1)
  FROM sources s
  WHERE s.source IS NOT NULL
)
UPDATE events SET
  status = 'pending',
  attempts = 0,
  next_attempt_at = coalesce($9::timestamptz, now()),
  processed_at = NULL,
  ordering_released_at = NULL,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = coalesce($9::timestamptz, now())
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR id >= $5)
  AND ($6::text IS NULL OR id < $6)
  AND ($7::text IS NULL OR id = $7
       OR (source, dedupe_key) IN (SELECT source, $7 FROM sources WHERE source IS NOT NULL))
  AND status <> 'processing'
  AND ($8::text[] IS NULL OR id = ANY ($8::text[]))
  -- Ordering (docs/ordering.md): an ordered event only when its key was read and locked first
  -- ($10/$11, list-requeue-ordering-keys.sql); one that matched only since is left as if it had
  -- come after this requeue.
  AND (ordering_key IS NULL
       OR (source, ordering_key) IN (SELECT * FROM unnest($10::text[], $11::text[])))
