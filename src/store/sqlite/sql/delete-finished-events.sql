-- Archive: delete the listed events once written out, but only while they are still finished
-- and processed before @before (one requeued or processed again since stays). Attempts go with
-- them (ON DELETE CASCADE).
DELETE FROM events
WHERE id IN (SELECT value FROM json_each(@ids))
  AND status IN ('processed', 'ignored')
  AND processed_at < @before
