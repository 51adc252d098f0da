-- What goes with deleted events (@ids, a JSON array): their deliveries' attempts (before delete-deliveries.sql).
DELETE FROM delivery_attempts
WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN (SELECT value FROM json_each(@ids)))
