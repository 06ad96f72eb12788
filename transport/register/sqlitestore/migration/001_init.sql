-- 001: the register (entries + head) and the outbox.
CREATE TABLE register_entries (
    seq            INTEGER PRIMARY KEY,
    time_us        INTEGER NOT NULL,
    direction      TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    event          TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    endpoint       TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    related        TEXT    NOT NULL,
    correlation    TEXT    NOT NULL,
    attempt        INTEGER NOT NULL,
    payload_sha256 BLOB    NOT NULL,
    payload_size   INTEGER NOT NULL,
    detail         TEXT    NOT NULL,
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL
);
CREATE INDEX register_entries_message_id ON register_entries (message_id);
CREATE INDEX register_entries_related ON register_entries (related) WHERE related <> '';

CREATE TRIGGER register_entries_no_update BEFORE UPDATE ON register_entries
BEGIN
    SELECT RAISE(ABORT, 'register entries are append-only: UPDATE refused');
END;
CREATE TRIGGER register_entries_no_delete BEFORE DELETE ON register_entries
BEGIN
    SELECT RAISE(ABORT, 'register entries are append-only: DELETE refused');
END;

CREATE TABLE register_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
INSERT INTO register_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE outbox_messages (
    id              TEXT    PRIMARY KEY,
    channel         TEXT    NOT NULL,
    endpoint        TEXT    NOT NULL,
    correlation     TEXT    NOT NULL,
    payload_sha256  BLOB    NOT NULL,
    payload_size    INTEGER NOT NULL,
    resend_of       TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'retry-wait', 'acknowledged', 'rejected', 'dead')),
    attempt         INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    next_attempt_us INTEGER NOT NULL,
    claimed_by      TEXT    NOT NULL,
    claimed_us      INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL
);
CREATE INDEX outbox_messages_claim ON outbox_messages (state, next_attempt_us);
CREATE INDEX outbox_messages_correlation ON outbox_messages (correlation);
