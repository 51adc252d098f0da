-- Per destination: deliveries still to make and dead ones by status, each through the partial
-- index the claims, the lease sweep and the dead list use, so the cost grows with the backlog
-- and the dead, never with the deliveries that succeeded; and the attempts since $1 by outcome
-- (kind 'attempt') through delivery_attempts_started. Succeeded deliveries are counted only as
-- the window's succeeded attempts (delivery-rows.ts). Each filter repeats its index's predicate.
SELECT 'status' AS kind, source, destination, status AS label, count(*) AS count
FROM deliveries
WHERE status IN ('pending', 'failed')
GROUP BY source, destination, status
UNION ALL
SELECT 'status', source, destination, 'processing', count(*)
FROM deliveries
WHERE status = 'processing'
GROUP BY source, destination
UNION ALL
SELECT 'status', source, destination, 'dead', count(*)
FROM deliveries
WHERE status = 'dead'
GROUP BY source, destination
UNION ALL
SELECT 'attempt', d.source, d.destination, a.outcome, count(*)
FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE a.started_at >= $1
GROUP BY d.source, d.destination, a.outcome
