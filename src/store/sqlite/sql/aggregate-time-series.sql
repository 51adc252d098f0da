-- The dashboard's charts: counts per bucket over [@since, @until], bucket = (t - @since) / @bucketMs.
-- received: events received in the window (also bounded by id: the primary key finds them).
-- processed / failed: attempts by finished_at (a retried event counts each failed attempt;
-- manual rows count). settled: attempts that ended their event (processed, ignored, dead; an
-- event killed by its last expired lease is not counted). waiting: the backlog now, in bucket
-- -1; the adapter walks back from it to the backlog at the end of each bucket (time-series.ts).
SELECT kind, bucket, count(*) AS count
FROM (
  SELECT 'received' AS kind, CAST((received_at - @since) / @bucketMs AS INTEGER) AS bucket
  FROM events
  WHERE id >= @sinceId AND id < @untilId AND received_at >= @since AND received_at <= @until
  UNION ALL
  SELECT
    CASE outcome WHEN 'processed' THEN 'processed' ELSE 'failed' END,
    CAST((finished_at - @since) / @bucketMs AS INTEGER)
  FROM attempts
  WHERE finished_at >= @since AND finished_at <= @until
    AND outcome IN ('processed', 'failed', 'dead')
  UNION ALL
  SELECT 'settled', CAST((finished_at - @since) / @bucketMs AS INTEGER)
  FROM attempts
  WHERE finished_at >= @since AND finished_at <= @until
    AND outcome IN ('processed', 'ignored', 'dead')
  UNION ALL
  SELECT 'waiting', -1
  FROM events
  WHERE status IN ('pending', 'failed', 'processing')
)
GROUP BY kind, bucket
