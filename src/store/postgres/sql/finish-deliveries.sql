-- Apply delivery verdicts, each fenced by its claim token, in one statement: the delivery's new
-- state, its attempts row, a 410's disabled destination, and the event's status. All CTEs see the
-- rows as they were before the statement, so "the event's other deliveries all succeeded" leaves
-- out the ones succeeding here. Verdicts committed concurrently by another process are caught by
-- the sweep (list-delivering-events.sql, settle-events.sql). Only `failed` moves the due time:
-- `released` (shutdown, a pause, a lost claim) and `disabled` (a 410) keep theirs, and with it
-- their place in receipt order when the destination takes deliveries again.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
input AS (
  SELECT *
  FROM unnest(
    $2::bigint[], $3::integer[], $4::text[], $5::bigint[], $6::timestamptz[], $7::integer[],
    $8::integer[], $9::bytea[], $10::text[], $11::text[]
  ) AS i (id, token, outcome, retry_delay_ms, started_at, duration_ms, status_code, excerpt, error_code, error)
),
finished AS (
  UPDATE deliveries d SET
    status = CASE WHEN i.outcome IN ('released', 'disabled') THEN 'pending' ELSE i.outcome END,
    attempts = CASE i.outcome WHEN 'released' THEN d.attempts - 1 ELSE d.attempts END,
    next_attempt_at = CASE
      WHEN i.outcome = 'failed' THEN t.now + i.retry_delay_ms * interval '1 millisecond'
      ELSE d.next_attempt_at
    END,
    finished_at = CASE WHEN i.outcome IN ('succeeded', 'dead') THEN t.now END,
    last_status_code = CASE i.outcome WHEN 'released' THEN d.last_status_code ELSE i.status_code END,
    last_error = CASE i.outcome WHEN 'succeeded' THEN NULL WHEN 'released' THEN d.last_error ELSE i.error END,
    locked_by = NULL,
    locked_at = NULL,
    locked_until = NULL,
    updated_at = t.now
  FROM input i, t
  WHERE d.id = i.id
    AND d.claim_token = i.token
    AND d.status = 'processing'
  RETURNING
    d.id, d.claim_token, d.event_id, d.source, d.destination, d.attempts, i.outcome, i.started_at,
    i.duration_ms, i.status_code, i.excerpt, i.error_code, i.error
),
recorded AS (
  INSERT INTO delivery_attempts (
    delivery_id, attempt_number, worker_id, started_at, duration_ms, status_code, response_excerpt,
    error_code, error, outcome
  )
  SELECT id, attempts, $12, started_at, duration_ms, status_code, substring(excerpt FROM 1 FOR 1024),
    error_code, error, outcome
  FROM finished
  WHERE outcome <> 'released'
),
disabled AS (
  INSERT INTO destination_states (source, name, state, reason, changed_at)
  SELECT DISTINCT ON (f.source, f.destination) f.source, f.destination, 'disabled', f.error, t.now
  FROM finished f, t
  WHERE f.outcome = 'disabled'
  ON CONFLICT (source, name) DO UPDATE SET
    state = excluded.state, reason = excluded.reason, changed_at = excluded.changed_at
),
event_done AS (
  UPDATE events e SET status = 'processed', processed_at = t.now, last_error = NULL, updated_at = t.now
  FROM t
  WHERE e.id IN (SELECT event_id FROM finished WHERE outcome = 'succeeded')
    AND e.status = 'delivering'
    AND NOT EXISTS (
      SELECT 1 FROM deliveries o
      WHERE o.event_id = e.id
        AND o.status <> 'succeeded'
        AND o.id NOT IN (SELECT id FROM finished WHERE outcome = 'succeeded')
    )
),
event_dead AS (
  UPDATE events e SET status = 'dead', last_error = f.message, updated_at = t.now
  FROM (
    SELECT DISTINCT ON (event_id) event_id,
      'delivery to ' || destination || ' is dead: ' || coalesce(error, 'out of attempts') AS message
    FROM finished
    WHERE outcome = 'dead'
    ORDER BY event_id, id
  ) f, t
  WHERE e.id = f.event_id AND e.status = 'delivering'
)
SELECT id, claim_token FROM finished
