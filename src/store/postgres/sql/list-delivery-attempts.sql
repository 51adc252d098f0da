SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id
