-- Ordering (docs/ordering.md): the dead head blocking key (@source, @key), skipped when @skip
-- (it stays dead, but no longer blocks: the key's next event runs); returns its id, none when
-- the key is not blocked. The caller promotes the key next, in the same transaction. Read
-- through events_ordering_live, with its own predicate word for word (SQLite's rule).
UPDATE events SET
  ordering_released_at = CASE WHEN @skip THEN @now ELSE ordering_released_at END,
  updated_at = CASE WHEN @skip THEN @now ELSE updated_at END
WHERE id = (
  SELECT id FROM events INDEXED BY events_ordering_live
  WHERE source = @source AND ordering_key = @key
    AND ordering_key IS NOT NULL AND status IN ('pending', 'failed', 'processing', 'delivering', 'dead')
    AND status = 'dead' AND ordering_on_dead = 'block' AND ordering_released_at IS NULL
  ORDER BY ordered_at, id
  LIMIT 1
)
RETURNING id
