-- Renew the leases of claims that still hold their events, fenced by the claim token: a stale
-- claim (reclaimed, released, or replaced by a newer claim of the same event) renews nothing.
-- Only locked_until and updated_at change, and no index covers them: a HOT update.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now)
UPDATE events e SET
  locked_until = t.now + $4::bigint * interval '1 millisecond',
  updated_at = t.now
FROM unnest($2::text[], $3::integer[]) AS c (id, token), t
WHERE e.id = c.id
  AND e.claim_token = c.token
  AND e.status = 'processing'
RETURNING e.id, e.claim_token
