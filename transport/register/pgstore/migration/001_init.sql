-- 001: the register (entries + head) and the outbox.
CREATE TABLE register_entries (
    seq            bigint      PRIMARY KEY,
    time           timestamptz NOT NULL,
    direction      text        NOT NULL,
    channel        text        NOT NULL,
    event          text        NOT NULL,
    actor          text        NOT NULL,
    endpoint       text        NOT NULL,
    message_id     text        NOT NULL,
    related        text        NOT NULL,
    correlation    text        NOT NULL,
    attempt        integer     NOT NULL,
    payload_sha256 bytea       NOT NULL,
    payload_size   bigint      NOT NULL,
    detail         text        NOT NULL,
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL
);
CREATE INDEX register_entries_message_id ON register_entries (message_id);
CREATE INDEX register_entries_related ON register_entries (related) WHERE related <> '';

CREATE FUNCTION register_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'register entries are append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER register_entries_no_update BEFORE UPDATE OR DELETE ON register_entries
    FOR EACH ROW EXECUTE FUNCTION register_entries_refuse();
CREATE TRIGGER register_entries_no_truncate BEFORE TRUNCATE ON register_entries
    FOR EACH STATEMENT EXECUTE FUNCTION register_entries_refuse();

CREATE TABLE register_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL
);
INSERT INTO register_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox_messages (
    id              text        PRIMARY KEY,
    channel         text        NOT NULL,
    endpoint        text        NOT NULL,
    correlation     text        NOT NULL,
    payload_sha256  bytea       NOT NULL,
    payload_size    bigint      NOT NULL,
    resend_of       text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'retry-wait', 'acknowledged', 'rejected', 'dead')),
    attempt         integer     NOT NULL,
    max_attempts    integer     NOT NULL,
    next_attempt_at timestamptz,
    claimed_by      text        NOT NULL,
    claimed_at      timestamptz,
    last_error      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX outbox_messages_claim ON outbox_messages (state, next_attempt_at);
CREATE INDEX outbox_messages_correlation ON outbox_messages (correlation);
