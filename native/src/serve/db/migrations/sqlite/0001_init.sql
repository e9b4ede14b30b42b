-- Mailtrail local endpoint, schema 1 (SQLite).
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    address     TEXT NOT NULL UNIQUE,          -- normalised (lower case, punycode domain)
    name        TEXT,
    search      TEXT NOT NULL,                 -- lower-cased "name address" for substring search
    sort_key    TEXT NOT NULL,                 -- lower-cased display name, for the list order
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX contacts_sort ON contacts (sort_key, id);

CREATE TABLE records (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    mailbox         TEXT NOT NULL,             -- '' when the client did not say
    message_id      TEXT,                      -- NULLs never collide: records without one dedupe by key only
    thread_id       TEXT,
    thread_key      TEXT NOT NULL,
    direction       TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    subject         TEXT NOT NULL,
    from_address    TEXT,
    snippet         TEXT NOT NULL,
    summary         TEXT NOT NULL,             -- JSON: participants, attachments, reasons (timeline rows)
    body            TEXT NOT NULL              -- JSON: the record as received, attachment data removed
);
CREATE UNIQUE INDEX records_mailbox_message_id ON records (mailbox, message_id);
CREATE INDEX records_message_id ON records (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX records_thread_id ON records (thread_id) WHERE thread_id IS NOT NULL;

CREATE TABLE record_contacts (
    contact_id  INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    record_id   INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    sent_at     INTEGER NOT NULL,              -- copied from records for the timeline index
    PRIMARY KEY (contact_id, record_id)
);
CREATE INDEX record_contacts_timeline ON record_contacts (contact_id, sent_at DESC, record_id DESC);
CREATE INDEX record_contacts_record ON record_contacts (record_id);

CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,              -- lower-case hex of the content
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE record_blobs (
    record_id   INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    sha256      TEXT NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (record_id, sha256)
);
CREATE INDEX record_blobs_sha256 ON record_blobs (sha256);

CREATE TABLE watch_status (
    account     TEXT PRIMARY KEY,
    status      TEXT NOT NULL,                 -- JSON object sent by `mailtrail watch`
    updated_at  INTEGER NOT NULL
);
