SELECT headers, body, body_sha256 FROM event_bodies WHERE event_id = @id
