DELETE FROM event_bodies WHERE event_id IN (SELECT value FROM json_each(@ids))
