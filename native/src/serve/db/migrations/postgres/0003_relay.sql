-- Mailtrail local endpoint, schema 3 (PostgreSQL): relaying stored records to HubSpot.
-- See docs/server.md, "Relay to HubSpot". Times are milliseconds since the Unix epoch (UTC).

-- Targets records are queued for. A row is written when a server with the relay configured
-- starts, and removed by MAILTRAIL_HUBSPOT_RELAY=off. While a row exists every record stored
-- (by any server sharing the database) is queued in the same transaction that stores it.
CREATE TABLE relay_targets (
    target      TEXT PRIMARY KEY,              -- 'hubspot'
    enabled_at  BIGINT NOT NULL
);

-- One row per record and target: where the record is in its delivery.
CREATE TABLE relay (
    record_id   BIGINT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    target      TEXT NOT NULL,
    state       TEXT NOT NULL,                 -- pending, retrying, done, dead
    attempts    BIGINT NOT NULL,               -- attempts started (reset by a manual retry)
    next_at     BIGINT NOT NULL,              -- pending/retrying: due from then on
    maybe_sent  BOOLEAN NOT NULL,              -- an attempt may have reached the CRM: look before creating
    lease_owner TEXT,                          -- the relay worker delivering it now (NULL: nobody)
    lease_until BIGINT,                       -- past this, the attempt is considered abandoned
    last_status BIGINT,                       -- HTTP status of the last failure (NULL: network)
    last_code   TEXT,
    last_error  TEXT,
    remote_id   TEXT,                          -- done: the CRM's id of the email
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (record_id, target)
);
CREATE INDEX relay_due ON relay (target, next_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX relay_state ON relay (target, state, updated_at);
