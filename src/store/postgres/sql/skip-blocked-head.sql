-- Ordering (docs/ordering.md): the dead head blocking key ($1, $2), skipped when $4 (it stays
-- dead, but no longer blocks: the key's next event runs); returns its id, none when the key is
-- not blocked. Runs after lock-ordering-keys.sql, before the promotion.
WITH t AS (SELECT coalesce($3::timestamptz, now()) AS now),
head AS (
  SELECT id FROM events
  WHERE source = $1 AND ordering_key = $2 AND status = 'dead'
    AND ordering_on_dead = 'block' AND ordering_released_at IS NULL
  ORDER BY ordered_at, id
  LIMIT 1
),
skipped AS (
  UPDATE events e SET ordering_released_at = t.now, updated_at = t.now
  FROM head h, t
  WHERE e.id = h.id AND $4::boolean
  RETURNING e.id
)
SELECT id, (SELECT count(*) FROM skipped) AS skipped FROM head
