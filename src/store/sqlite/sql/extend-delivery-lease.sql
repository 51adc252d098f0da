-- Renew one delivery claim's lease, fenced by its token.
UPDATE deliveries SET locked_until = @lockedUntil, updated_at = @now
WHERE id = @id AND claim_token = @token AND status = 'processing'
RETURNING id, claim_token
