-- The last id settle-delivering-events.sql looked at (NULL: it reached the end).
SELECT max(id) AS last_id FROM (
  SELECT id FROM events INDEXED BY events_delivering
  WHERE status = 'delivering' AND id > @afterId ORDER BY id LIMIT @limit
)
