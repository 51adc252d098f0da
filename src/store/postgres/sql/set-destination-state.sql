-- Set one destination's state; returns the state it had before (NULL: no row, active).
WITH t AS (SELECT coalesce($5::timestamptz, now()) AS now),
previous AS (SELECT state FROM destination_states WHERE source = $1 AND name = $2),
written AS (
  INSERT INTO destination_states (source, name, state, reason, changed_at)
  SELECT $1, $2, $3, $4, t.now FROM t
  ON CONFLICT (source, name) DO UPDATE SET
    state = excluded.state, reason = excluded.reason, changed_at = excluded.changed_at
)
SELECT (SELECT state FROM previous) AS previous
