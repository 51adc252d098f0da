-- Written once, with the event's first delivery; claims and outcomes never touch it.
-- Parameters: event id, headers (JSON), body, body hash.
INSERT INTO event_bodies (event_id, headers, body, body_sha256) VALUES (?, ?, ?, ?)
