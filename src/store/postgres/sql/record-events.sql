-- Group commit: the whole batch in one statement (one implicit transaction). Parameters are
-- parallel arrays, one element per (source, dedupe_key) group, unnested into rows. The bodies
-- travel as ONE binary bytea ($7) cut by offset and length: a bytea inside a text[] array would
-- be sent hex-encoded, twice the bytes and an encode/decode on each side.
-- A duplicate only counts the delivery. A row is new when its id is the one proposed. A new
-- row flagged `claim` is taken by the ingesting process's worker at once (claim-at-ingest):
-- processing, attempt 1, claim token 1, a lease of $18 ms for worker $17.
-- Ordering (docs/ordering.md): a row with an ordering key ($19, its place $20, onDead $21) is
-- never claimed here and goes in `waiting`, due after its reorder window ($22 ms); the caller
-- promotes its key's head in the same transaction (promote-ordering-keys.sql), which notifies.
-- $23 is each row's status when not claimed (record-batch.ts, unclaimedStatus): waiting for an
-- ordered row, delivering for one only its destinations take, else pending.
-- pg_notify wakes other processes' workers for new rows nobody holds; notifications are
-- delivered only if the statement commits, and repeats within a transaction collapse into one.
WITH t AS (SELECT coalesce($15::timestamptz, now()) AS now),
input AS (
  SELECT *
  FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $8::integer[], $9::integer[], $10::text[], $11::timestamptz[], $12::integer[],
    $13::timestamptz[], $14::boolean[], $19::text[], $20::timestamptz[], $21::text[], $22::bigint[],
    $23::text[]
  ) AS i (
    id, source, provider, dedupe_key, event_type, headers,
    body_offset, body_length, body_sha256, received_at, delivery_count,
    last_delivery_at, claim, ordering_key, ordered_at, ordering_on_dead, hold_ms, unclaimed_status
  )
),
recorded AS (
  INSERT INTO events (
    id, source, provider, dedupe_key, event_type, status, attempts, claim_token, next_attempt_at,
    locked_by, locked_at, locked_until, received_at, delivery_count, last_delivery_at, updated_at,
    ordering_key, ordered_at, ordering_on_dead
  )
  SELECT
    i.id, i.source, i.provider, i.dedupe_key, i.event_type,
    CASE WHEN i.claim THEN 'processing' ELSE i.unclaimed_status END,
    CASE WHEN i.claim THEN 1 ELSE 0 END,
    CASE WHEN i.claim THEN 1 ELSE 0 END,
    CASE WHEN i.ordering_key IS NULL THEN t.now ELSE t.now + i.hold_ms * interval '1 millisecond' END,
    CASE WHEN i.claim THEN $17::text END,
    CASE WHEN i.claim THEN t.now END,
    CASE WHEN i.claim THEN t.now + $18::bigint * interval '1 millisecond' END,
    i.received_at, i.delivery_count, i.last_delivery_at, t.now,
    i.ordering_key, i.ordered_at, i.ordering_on_dead
  FROM input i, t
  ON CONFLICT (source, dedupe_key) DO UPDATE SET
    delivery_count = events.delivery_count + excluded.delivery_count,
    last_delivery_at = greatest(events.last_delivery_at, excluded.last_delivery_at),
    updated_at = excluded.updated_at
  RETURNING
    id, source, dedupe_key, status, delivery_count, claim_token, locked_at, locked_until,
    next_attempt_at, updated_at
),
bodies AS (
  INSERT INTO event_bodies (event_id, headers, body, body_sha256)
  SELECT i.id, i.headers::jsonb, substring($7::bytea FROM i.body_offset FOR i.body_length), i.body_sha256
  FROM input i
  JOIN recorded r ON r.id = i.id
),
woken AS (
  SELECT pg_notify($16::text, '')
  FROM recorded r
  JOIN input i ON i.id = r.id
  WHERE r.status = 'pending'
  LIMIT 1
)
SELECT
  r.id, r.source, r.dedupe_key, r.status, r.delivery_count, r.claim_token, r.locked_at,
  r.locked_until, r.next_attempt_at, r.updated_at, (SELECT count(*) FROM woken) AS woken
FROM recorded r
