-- 003: entries record whether they kept their payload's bytes (entry
-- encoding v2), so that Verify can tell a payload that must be held from
-- one that was only named.
ALTER TABLE register_entries ADD COLUMN payload_kept INTEGER NOT NULL DEFAULT 0;
