-- What goes with deleted events (@ids, a JSON array): their deliveries.
DELETE FROM deliveries WHERE event_id IN (SELECT value FROM json_each(@ids))
