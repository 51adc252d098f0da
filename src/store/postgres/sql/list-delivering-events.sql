-- The safety net's page (settleDeliveringEvents): unordered `delivering` events in id order
-- after $1, $2 at a time, for settle-events.sql to settle. A verdict that did not see another's
-- commit (a handler verdict and a delivery's, or two deliveries' on different processes) leaves
-- such an event delivering with nothing left to deliver. Ordered events settle under their
-- key's lock instead (settle-events.sql, ordered), so their key's next event is promoted too.
SELECT id FROM events
WHERE status = 'delivering' AND id > $1 AND ordering_key IS NULL
ORDER BY id
LIMIT $2
