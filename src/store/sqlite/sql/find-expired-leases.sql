-- Leases that ran out without a verdict (the worker crashed or hung). The few processing rows
-- are read through events_held.
SELECT id, claim_token, source, attempts, locked_by, locked_at, ordering_key
FROM events INDEXED BY events_held
WHERE status = 'processing' AND locked_until <= @now
ORDER BY id
LIMIT @limit
