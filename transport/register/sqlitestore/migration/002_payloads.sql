-- 002: payloads kept in the register (encrypted at rest by register/payload),
-- written in the same transaction as the entry that first names them.
-- Entries keep a payload's hash and size after a retention deletion removes
-- these rows; these tables are not part of the chain.
CREATE TABLE register_payloads (
    sha256      BLOB    PRIMARY KEY,
    stored_size INTEGER NOT NULL,
    chunks      INTEGER NOT NULL,
    created_us  INTEGER NOT NULL
);
CREATE TABLE register_payload_chunks (
    sha256 BLOB    NOT NULL,
    n      INTEGER NOT NULL,
    data   BLOB    NOT NULL,
    PRIMARY KEY (sha256, n)
);
