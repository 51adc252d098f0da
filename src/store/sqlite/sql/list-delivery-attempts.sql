SELECT * FROM delivery_attempts WHERE delivery_id = @deliveryId ORDER BY id
