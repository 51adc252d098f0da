-- Newest first by id (a ULID, so by receive time); the cursor ($8) is the last id of the
-- previous page. Absent filters are NULL; the adapter runs this unnamed so PostgreSQL plans
-- it with the actual values and drops the NULL branches.
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  body_sha256, updated_at
FROM events
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::timestamptz IS NULL OR received_at >= $5)
  AND ($6::timestamptz IS NULL OR received_at < $6)
  AND ($7::text IS NULL OR id = $7 OR dedupe_key = $7)
  AND ($8::text IS NULL OR id < $8)
ORDER BY id DESC
LIMIT $9
