SELECT round(extract(epoch FROM processed_at - received_at) * 1000)::float8 AS latency
FROM events
WHERE status = 'processed' AND processed_at >= $1 AND processed_at <= $2
ORDER BY processed_at DESC
LIMIT $3
