-- Attempts go with the event (ON DELETE CASCADE).
DELETE FROM events WHERE id = $1
