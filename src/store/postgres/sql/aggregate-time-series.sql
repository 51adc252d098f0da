-- The dashboard's charts: counts per bucket over [$1, $2], bucket = (t - $1) / $3 ms.
-- received: events received in the window (the window arrives as id bounds $4, $5 too, so the
-- primary key finds them). processed / failed: attempts by finished_at (a retried event counts
-- each failed attempt; manual rows count). settled: attempts that ended their event (processed,
-- ignored, dead; an event killed by its last expired lease is not counted). waiting: the
-- backlog now, in bucket -1; the adapter walks back from it to the backlog at the end of each
-- bucket (time-series.ts).
SELECT kind, bucket, count(*) AS count
FROM (
  SELECT 'received' AS kind, floor(extract(epoch FROM received_at - $1::timestamptz) * 1000 / $3::bigint)::int AS bucket
  FROM events
  WHERE id >= $4 AND id < $5 AND received_at >= $1 AND received_at <= $2
  UNION ALL
  SELECT
    CASE outcome WHEN 'processed' THEN 'processed' ELSE 'failed' END,
    floor(extract(epoch FROM finished_at - $1::timestamptz) * 1000 / $3::bigint)::int
  FROM attempts
  WHERE finished_at >= $1 AND finished_at <= $2
    AND outcome IN ('processed', 'failed', 'dead')
  UNION ALL
  SELECT 'settled', floor(extract(epoch FROM finished_at - $1::timestamptz) * 1000 / $3::bigint)::int
  FROM attempts
  WHERE finished_at >= $1 AND finished_at <= $2
    AND outcome IN ('processed', 'ignored', 'dead')
  UNION ALL
  SELECT 'waiting', -1
  FROM events
  WHERE status IN ('pending', 'failed', 'processing')
) AS counted
GROUP BY kind, bucket
