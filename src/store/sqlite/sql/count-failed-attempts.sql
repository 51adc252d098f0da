SELECT count(*) AS count
FROM attempts
WHERE finished_at >= @since AND finished_at <= @until
  AND outcome IN ('failed', 'dead')
