SELECT coalesce($1::timestamptz, now()) AS now
