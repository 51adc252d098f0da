-- The same body under several dedupe keys of one source: a provider that changes its event
-- id on retry, or a dedupe key chosen badly. An on-demand report over every body hash.
SELECT
  e.source,
  b.body_sha256,
  count(*) AS count,
  array_agg(e.id ORDER BY e.id) AS event_ids,
  array_agg(e.dedupe_key ORDER BY e.id) AS dedupe_keys
FROM events e
JOIN event_bodies b ON b.event_id = e.id
GROUP BY e.source, b.body_sha256
HAVING count(DISTINCT e.dedupe_key) > 1
ORDER BY count(*) DESC, e.source, b.body_sha256
LIMIT $1
