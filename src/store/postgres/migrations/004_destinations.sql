-- Destinations (docs/destinations.md): each (event, destination) is a delivery with its own
-- status, attempts, lease and dead letter; destination_states holds what operators (or a 410)
-- changed, an absent row meaning active. Every index names the query it serves:
--   deliveries_event_destination  one row per (event, destination); an event's deliveries (verdicts,
--                                 the event's delivery summary, replay)
--   deliveries_claimable          claims, per destination, due rows in receipt order
--   deliveries_held               lease renewal and reclaim (the few processing rows)
--   deliveries_dead               the dead-letter list per destination (rare rows)
--   delivery_attempts_delivery    a delivery's attempts
--   events_delivering             the sweep that settles events whose last delivery finished
-- Events gain the status `delivering`: handlers done, deliveries remain.

ALTER TABLE events DROP CONSTRAINT events_status_check;
ALTER TABLE events ADD CONSTRAINT events_status_check
  CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'ignored', 'delivering'));
CREATE INDEX events_delivering ON events (id) WHERE status = 'delivering';

CREATE TABLE deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id text COLLATE "C" NOT NULL,
  source text NOT NULL,
  destination text NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  claim_token integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  locked_by text,
  locked_at timestamptz,
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  finished_at timestamptz
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination);
CREATE INDEX deliveries_claimable ON deliveries (source, destination, next_attempt_at, event_id)
  WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_held ON deliveries (locked_until) WHERE status = 'processing';
CREATE INDEX deliveries_dead ON deliveries (source, destination, id) WHERE status = 'dead';

CREATE TABLE delivery_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL,
  attempt_number integer NOT NULL,
  worker_id text NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL CHECK (duration_ms >= 0),
  status_code integer,
  response_excerpt bytea NOT NULL CHECK (length(response_excerpt) <= 1024),
  error_code text,
  error text,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead', 'disabled', 'lease_expired'))
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

CREATE TABLE destination_states (
  source text NOT NULL,
  name text NOT NULL,
  state text NOT NULL CHECK (state IN ('active', 'paused', 'disabled')),
  reason text,
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (source, name)
);
