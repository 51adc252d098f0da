-- Handler run times: worker attempts with a verdict. Manual rows (no handler ran), releases
-- and expired leases (no verdict) would distort the distribution.
SELECT duration_ms
FROM attempts
WHERE finished_at >= @since AND finished_at <= @until
  AND worker_id <> 'manual'
  AND outcome IN ('processed', 'failed', 'dead', 'ignored')
ORDER BY finished_at DESC
LIMIT @limit
