-- Per destination: deliveries still to make and dead ones by status, each through the partial
-- index the claims, the lease sweep and the dead list use, so the cost grows with the backlog
-- and the dead, never with the deliveries that succeeded; and the attempts since @since by
-- outcome (kind 'attempt') through delivery_attempts_started. Succeeded deliveries are counted
-- only as the window's succeeded attempts (delivery-rows.ts). INDEXED BY with each index's own
-- predicate, word for word: SQLite uses a partial index only then.
SELECT 'status' AS kind, source, destination, status AS label, count(*) AS count
FROM deliveries INDEXED BY deliveries_claimable
WHERE status IN ('pending', 'failed')
GROUP BY source, destination, status
UNION ALL
SELECT 'status', source, destination, 'processing', count(*)
FROM deliveries INDEXED BY deliveries_held
WHERE status = 'processing'
GROUP BY source, destination
UNION ALL
SELECT 'status', source, destination, 'dead', count(*)
FROM deliveries INDEXED BY deliveries_dead
WHERE status = 'dead'
GROUP BY source, destination
UNION ALL
SELECT 'attempt', d.source, d.destination, a.outcome, count(*)
FROM delivery_attempts a INDEXED BY delivery_attempts_started
JOIN deliveries d ON d.id = a.delivery_id
WHERE a.started_at >= @since
GROUP BY d.source, d.destination, a.outcome
