-- 005: tenants and the key hierarchy. Entries carry the tenant whose
-- register holds them (entry encoding v3; empty for entries written
-- before), the register records its tenant once, and the data keys that
-- seal payloads are kept here wrapped under the tenant's key-encryption
-- key (never in the clear).
ALTER TABLE register_entries ADD COLUMN tenant text NOT NULL DEFAULT '';

CREATE TABLE register_tenant (
    id         integer     PRIMARY KEY CHECK (id = 1),
    tenant     text        NOT NULL,
    bound_from bigint      NOT NULL,
    created    timestamptz NOT NULL
);

CREATE TABLE register_data_keys (
    key_id    text        PRIMARY KEY,
    class     text        NOT NULL,
    month     text        NOT NULL,
    kek_id    text        NOT NULL,
    wrapped   bytea,
    created   timestamptz NOT NULL,
    destroyed timestamptz
);
CREATE UNIQUE INDEX register_data_keys_live ON register_data_keys (class, month) WHERE destroyed IS NULL;
