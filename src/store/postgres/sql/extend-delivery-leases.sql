-- Renew the leases of delivery claims that still hold their delivery, fenced by the claim token.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now)
UPDATE deliveries d SET
  locked_until = t.now + $4::bigint * interval '1 millisecond',
  updated_at = t.now
FROM unnest($2::bigint[], $3::integer[]) AS c (id, token), t
WHERE d.id = c.id
  AND d.claim_token = c.token
  AND d.status = 'processing'
RETURNING d.id, d.claim_token
