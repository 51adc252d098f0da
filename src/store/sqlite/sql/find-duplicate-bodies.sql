-- The same body under several dedupe keys of one source: a provider that changes its event
-- id on retry, or a dedupe key chosen badly.
SELECT
  source,
  body_sha256,
  count(*) AS count,
  json_group_array(id ORDER BY id) AS event_ids,
  json_group_array(dedupe_key ORDER BY id) AS dedupe_keys
FROM events
GROUP BY source, body_sha256
HAVING count(DISTINCT dedupe_key) > 1
ORDER BY count(*) DESC, source, body_sha256
LIMIT @limit
