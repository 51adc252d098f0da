SELECT max(id) AS last_id FROM (SELECT id FROM events WHERE id > @afterId ORDER BY id LIMIT @limit)
