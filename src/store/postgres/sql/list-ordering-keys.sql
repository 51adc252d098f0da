-- Ordering (docs/ordering.md): the keys of the ordered events among these ids, read before an
-- operator's write so the write can take their locks first (lock-ordering-keys.sql).
SELECT DISTINCT source, ordering_key
FROM events
WHERE id = ANY ($1::text[]) AND ordering_key IS NOT NULL
