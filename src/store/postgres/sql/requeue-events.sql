-- Operator retry: a new retry cycle (attempts 0), due now ($9). Events a worker holds are
-- left alone; last_error stays so the operator still sees why it failed before.
UPDATE events SET
  status = 'pending',
  attempts = 0,
  next_attempt_at = $9,
  processed_at = NULL,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = $9
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::text IS NULL OR provider = $2)
  AND ($3::text[] IS NULL OR status = ANY ($3::text[]))
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::timestamptz IS NULL OR received_at >= $5)
  AND ($6::timestamptz IS NULL OR received_at < $6)
  AND ($7::text IS NULL OR id = $7 OR dedupe_key = $7)
  AND status <> 'processing'
  AND ($8::text[] IS NULL OR id = ANY ($8::text[]))
