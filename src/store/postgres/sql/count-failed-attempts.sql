SELECT count(*) AS count
FROM attempts
WHERE finished_at >= $1 AND finished_at <= $2
  AND outcome IN ('failed', 'dead')
