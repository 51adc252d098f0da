-- Archive: delete the listed events once written out, but only while they are still finished
-- and processed before $2 (one requeued or processed again since stays). Attempts go with them
-- (ON DELETE CASCADE).
DELETE FROM events
WHERE id = ANY ($1::text[])
  AND status IN ('processed', 'ignored')
  AND processed_at < $2
