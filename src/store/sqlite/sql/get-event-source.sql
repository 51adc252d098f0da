SELECT source, status FROM events WHERE id = @eventId
