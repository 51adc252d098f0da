-- Renew one claim's lease, fenced by its token: a stale claim (reclaimed, released, or replaced
-- by a newer claim of the same event) renews nothing.
UPDATE events SET locked_until = @lockedUntil, updated_at = @now
WHERE id = @eventId AND claim_token = @token AND status = 'processing'
RETURNING id, claim_token
