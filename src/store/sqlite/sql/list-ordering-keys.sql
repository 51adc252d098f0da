-- Ordering (docs/ordering.md): the keys of the ordered events among these ids, so an operator's
-- write can promote their heads after it, in the same transaction.
SELECT DISTINCT source, ordering_key
FROM events
WHERE id IN (SELECT value FROM json_each(@ids)) AND ordering_key IS NOT NULL
