-- A delivering event with a dead delivery is dead (retrying the delivery reopens it).
UPDATE events SET status = 'dead', last_error = @error, updated_at = @now
WHERE id = @eventId AND status = 'delivering'
