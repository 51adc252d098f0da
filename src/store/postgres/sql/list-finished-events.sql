-- Archive: finished events processed before $1, in id order after the cursor $2, $3 at a time,
-- with their bodies and headers.
SELECT *
FROM events
WHERE status IN ('processed', 'ignored')
  AND processed_at < $1
  AND id > $2
ORDER BY id
LIMIT $3
