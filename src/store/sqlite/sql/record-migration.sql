INSERT INTO hookbox_migrations (version, name, applied_at) VALUES (@version, @name, @appliedAt)
