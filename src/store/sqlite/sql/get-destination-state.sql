SELECT state FROM destination_states WHERE source = @source AND name = @name
