SELECT * FROM deliveries WHERE id = $1
