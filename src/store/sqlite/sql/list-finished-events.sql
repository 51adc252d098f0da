-- Archive: finished events processed before @before, in id order after the cursor @afterId,
-- @limit at a time, with their bodies and headers.
SELECT *
FROM events
WHERE status IN ('processed', 'ignored')
  AND processed_at < @before
  AND id > @afterId
ORDER BY id
LIMIT @limit
