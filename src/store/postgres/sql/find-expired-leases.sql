-- Leases that ran out without a verdict (the worker crashed, or lost the database), by the
-- store's clock. The few processing rows are read through events_held.
SELECT id, claim_token, source, attempts, locked_by, locked_at, ordering_key
FROM events
WHERE status = 'processing' AND locked_until <= coalesce($1::timestamptz, now())
ORDER BY id
LIMIT $2
