-- Every destination whose state was ever set (absent: active).
SELECT source, name, state, reason, changed_at FROM destination_states ORDER BY source, name
