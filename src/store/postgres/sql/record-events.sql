-- Group commit: the whole batch in one statement (one implicit transaction). Parameters are
-- parallel arrays, one element per (source, dedupe_key) group, unnested into rows. A
-- duplicate only counts the delivery. A row is new when its id is the one proposed ($1).
-- pg_notify wakes listening workers; notifications are delivered only if the statement
-- commits, and repeats of one channel+payload within a transaction collapse into one.
WITH input AS (
  SELECT *
  FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
    $6::text[], $7::bytea[], $8::text[], $9::timestamptz[], $10::integer[], $11::timestamptz[]
  ) AS t (
    id, source, provider, dedupe_key, event_type,
    headers, body, body_sha256, received_at, delivery_count, last_delivery_at
  )
),
recorded AS (
  INSERT INTO events (
    id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at,
    received_at, delivery_count, last_delivery_at, headers, body, body_sha256, updated_at
  )
  SELECT
    id, source, provider, dedupe_key, event_type, 'pending', 0, received_at,
    received_at, delivery_count, last_delivery_at, headers::jsonb, body, body_sha256, $12::timestamptz
  FROM input
  ON CONFLICT (source, dedupe_key) DO UPDATE SET
    delivery_count = events.delivery_count + excluded.delivery_count,
    last_delivery_at = greatest(events.last_delivery_at, excluded.last_delivery_at),
    updated_at = excluded.updated_at
  RETURNING id, source, dedupe_key, status, delivery_count
),
woken AS (
  SELECT pg_notify($13::text, '') FROM recorded WHERE id = ANY ($1::text[]) LIMIT 1
)
SELECT id, source, dedupe_key, status, delivery_count, (SELECT count(*) FROM woken) AS woken
FROM recorded
