-- 002: payloads kept in the register (encrypted at rest by register/payload),
-- written in the same transaction as the entry that first names them.
-- Entries keep a payload's hash and size after a retention deletion removes
-- these rows; these tables are not part of the chain.
CREATE TABLE register_payloads (
    sha256      bytea       PRIMARY KEY,
    stored_size bigint      NOT NULL,
    chunks      integer     NOT NULL,
    created     timestamptz NOT NULL
);
CREATE TABLE register_payload_chunks (
    sha256 bytea   NOT NULL,
    n      integer NOT NULL,
    data   bytea   NOT NULL,
    PRIMARY KEY (sha256, n)
);
