-- What a claimed delivery sends: its event's type, receipt time, stored headers and raw body,
-- and the event's ordering key (its verdict may free the key for the next event).
SELECT e.event_type, e.received_at, e.ordering_key, b.headers, b.body
FROM events e JOIN event_bodies b ON b.event_id = e.id
WHERE e.id = @eventId
