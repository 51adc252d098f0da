-- One (source, dedupe_key) group of a group-commit batch, written as a new event; the caller runs
-- it for every group inside one IMMEDIATE transaction, then writes the body row of each one that
-- was new (changes = 1). A key already stored changes nothing here: count-duplicate.sql counts
-- the delivery. Positional parameters and no RETURNING: the hot path knows every value it wrote.
-- A row claimed at ingest arrives as processing, attempt 1, claim token 1, with its lease.
-- An ordered row (docs/ordering.md) arrives waiting, with its key, place and onDead, due after
-- its reorder window; the caller then promotes its key's head (promote-ordering-key.sql).
INSERT INTO events (
  id, source, provider, dedupe_key, event_type, status, attempts, claim_token, next_attempt_at,
  locked_by, locked_at, locked_until, received_at, delivery_count, last_delivery_at, updated_at,
  ordering_key, ordered_at, ordering_on_dead
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, dedupe_key) DO NOTHING
