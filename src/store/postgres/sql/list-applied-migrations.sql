SELECT version FROM hookbox_migrations ORDER BY version
