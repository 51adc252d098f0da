-- A delivery of an event already stored: count it on the existing row, nothing else changes.
-- Parameters: copies in the batch, the latest copy's receive time, now, source, dedupe key.
UPDATE events SET
  delivery_count = delivery_count + ?,
  last_delivery_at = max(last_delivery_at, ?),
  updated_at = ?
WHERE source = ? AND dedupe_key = ?
RETURNING id, status, delivery_count
