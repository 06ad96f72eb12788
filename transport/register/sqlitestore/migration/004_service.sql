-- 004: the service mode's state beside the chain: job leases, the latest
-- and the latest successful run per job, and the open incidents. The
-- chain holds their history (job-started … alert-resolved entries).
CREATE TABLE job_leases (
    job      TEXT    PRIMARY KEY,
    holder   TEXT    NOT NULL,
    until_us INTEGER NOT NULL
);

CREATE TABLE job_runs (
    job          TEXT    NOT NULL,
    slot         TEXT    NOT NULL CHECK (slot IN ('last', 'succeeded')),
    run_id       TEXT    NOT NULL,
    scheduled_us INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    holder       TEXT    NOT NULL,
    started_us   INTEGER NOT NULL,
    finished_us  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('', 'succeeded', 'retry', 'failed')),
    retry_us     INTEGER NOT NULL,
    detail       TEXT    NOT NULL,
    PRIMARY KEY (job, slot)
);

CREATE TABLE open_incidents (
    key      TEXT    PRIMARY KEY,
    scope    TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    summary  TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    since_us INTEGER NOT NULL
);
