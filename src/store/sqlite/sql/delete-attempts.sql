-- What goes with deleted events (@ids, a JSON array): their attempts (and, by delete-bodies.sql, their bodies).
DELETE FROM attempts WHERE event_id IN (SELECT value FROM json_each(@ids))
