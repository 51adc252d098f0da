-- An attempt that ended while its handler still runs (a timeout): the caller writes its audit
-- row; the event stays held, and last_error says why.
UPDATE events SET last_error = @error, updated_at = @now
WHERE id = @eventId AND claim_token = @token AND status = 'processing'
RETURNING id, attempts, claim_token
