-- No foreign keys (see migration 003): the caller deletes the body and attempts of the ids this
-- returns, in the same transaction.
DELETE FROM events WHERE id = @id RETURNING id
