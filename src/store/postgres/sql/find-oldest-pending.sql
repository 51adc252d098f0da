-- The oldest event still waiting: the smallest id (ids are ULIDs) among the claimable rows
-- (events_claimable) and the held ones (events_held).
SELECT id, source, event_type, received_at
FROM events
WHERE id = (
  SELECT min(id) FROM (
    SELECT min(id) AS id FROM events WHERE status IN ('pending', 'failed')
    UNION ALL
    SELECT min(id) FROM events WHERE status = 'processing'
  ) AS oldest
)
