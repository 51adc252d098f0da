-- Archive: delete the listed events once written out, but only while they are still finished
-- and processed before @before (one requeued or processed again since stays). The caller
-- deletes the bodies and attempts of the ids this returns, in the same transaction.
DELETE FROM events
WHERE id IN (SELECT value FROM json_each(@ids))
  AND status IN ('processed', 'ignored')
  AND processed_at < @before
RETURNING id
