-- Ordering (docs/ordering.md): serialise every change to a key's set of unfinished events. The
-- first statement of any transaction that records, finishes, reclaims or moves ordered events:
-- it takes each affected key's transaction lock in one sorted order (so two such transactions
-- cannot deadlock on each other, and no row lock is held yet), and claims skip an ordered row
-- whose key is locked (claim-events.sql tries the same lock). $1: sources, $2: keys, in pairs.
SELECT count(pg_advisory_xact_lock(k.lock)) AS locked
FROM (
  SELECT DISTINCT hashtextextended('hookbox_ordering:' || source || ':' || ordering_key, 0) AS lock
  FROM unnest($1::text[], $2::text[]) AS i (source, ordering_key)
  ORDER BY 1
) k
