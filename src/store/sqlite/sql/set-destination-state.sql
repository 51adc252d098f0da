-- Set one destination's state (an upsert).
INSERT INTO destination_states (source, name, state, reason, changed_at)
VALUES (@source, @name, @state, @reason, @now)
ON CONFLICT (source, name) DO UPDATE SET
  state = excluded.state, reason = excluded.reason, changed_at = excluded.changed_at
