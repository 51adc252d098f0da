-- What destination summaries read (count-deliveries.sql, behind health checks, /metrics, the
-- dashboard and `hookbox destinations list`): the attempts of the recent window, found without
-- reading every attempt ever made. Appended in time order, so its writes stay on the last page.
--   delivery_attempts_started  attempts by start time: count-deliveries.sql's window
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at);
