-- Deliveries newest first, each filter NULL or a value; $5 pages (ids below it).
SELECT *
FROM deliveries
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR destination = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3))
  AND ($4::text IS NULL OR event_id = $4)
  AND ($5::bigint IS NULL OR id < $5)
ORDER BY id DESC
LIMIT $6
