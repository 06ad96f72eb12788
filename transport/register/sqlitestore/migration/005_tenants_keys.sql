-- 005: tenants and the key hierarchy. Entries carry the tenant whose
-- register holds them (entry encoding v3; empty for entries written
-- before), the register records its tenant once, and the data keys that
-- seal payloads are kept here wrapped under the tenant's key-encryption
-- key (never in the clear).
ALTER TABLE register_entries ADD COLUMN tenant TEXT NOT NULL DEFAULT '';

CREATE TABLE register_tenant (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    tenant     TEXT    NOT NULL,
    bound_from INTEGER NOT NULL,
    created_us INTEGER NOT NULL
);

CREATE TABLE register_data_keys (
    key_id       TEXT    PRIMARY KEY,
    class        TEXT    NOT NULL,
    month        TEXT    NOT NULL,
    kek_id       TEXT    NOT NULL,
    wrapped      BLOB,
    created_us   INTEGER NOT NULL,
    destroyed_us INTEGER
);
CREATE UNIQUE INDEX register_data_keys_live ON register_data_keys (class, month) WHERE destroyed_us IS NULL;
