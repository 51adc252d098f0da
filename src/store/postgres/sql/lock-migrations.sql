-- Held until the migration transaction ends: a second process starting at the same time
-- waits here, then finds the migrations already applied. The key is derived from the
-- schema, so Hookbox instances in different schemas do not wait on each other.
SELECT pg_advisory_xact_lock(hashtext('hookbox_migrations:' || $1::text))
