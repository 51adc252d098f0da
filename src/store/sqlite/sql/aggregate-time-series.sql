-- The dashboard's charts: counts per bucket over [@since, @until], bucket = (t - @since) / @bucketMs.
-- received: events by received_at. processed / failed: attempts by finished_at (a retried event
-- counts each failed attempt; manual rows count). settled: events that reached processed or
-- ignored (processed_at) or dead (updated_at). waiting: the backlog now, in bucket -1; the
-- adapter walks back from it to the backlog at the end of each bucket (time-series.ts).
SELECT kind, bucket, count(*) AS count
FROM (
  SELECT 'received' AS kind, CAST((received_at - @since) / @bucketMs AS INTEGER) AS bucket
  FROM events
  WHERE received_at >= @since AND received_at <= @until
  UNION ALL
  SELECT
    CASE outcome WHEN 'processed' THEN 'processed' ELSE 'failed' END,
    CAST((finished_at - @since) / @bucketMs AS INTEGER)
  FROM attempts
  WHERE finished_at >= @since AND finished_at <= @until
    AND outcome IN ('processed', 'failed', 'dead')
  UNION ALL
  SELECT 'settled', CAST((processed_at - @since) / @bucketMs AS INTEGER)
  FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at >= @since AND processed_at <= @until
  UNION ALL
  SELECT 'settled', CAST((updated_at - @since) / @bucketMs AS INTEGER)
  FROM events
  WHERE status = 'dead' AND updated_at >= @since AND updated_at <= @until
  UNION ALL
  SELECT 'waiting', -1
  FROM events
  WHERE status IN ('pending', 'failed', 'processing')
)
GROUP BY kind, bucket
