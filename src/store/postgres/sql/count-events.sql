SELECT count(*) AS count
FROM events
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::timestamptz IS NULL OR received_at >= $5)
  AND ($6::timestamptz IS NULL OR received_at < $6)
  AND ($7::text IS NULL OR id = $7 OR dedupe_key = $7)
