-- 004: the service mode's state beside the chain: job leases, the latest
-- and the latest successful run per job, and the open incidents. The
-- chain holds their history (job-started … alert-resolved entries).
CREATE TABLE job_leases (
    job         text        PRIMARY KEY,
    holder      text        NOT NULL,
    lease_until timestamptz NOT NULL
);

CREATE TABLE job_runs (
    job           text        NOT NULL,
    slot          text        NOT NULL CHECK (slot IN ('last', 'succeeded')),
    run_id        text        NOT NULL,
    scheduled_for timestamptz NOT NULL,
    attempt       integer     NOT NULL,
    holder        text        NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz,
    outcome       text        NOT NULL CHECK (outcome IN ('', 'succeeded', 'retry', 'failed')),
    retry_at      timestamptz,
    detail        text        NOT NULL,
    PRIMARY KEY (job, slot)
);

CREATE TABLE open_incidents (
    key      text        PRIMARY KEY,
    scope    text        NOT NULL,
    severity text        NOT NULL,
    summary  text        NOT NULL,
    detail   text        NOT NULL,
    since    timestamptz NOT NULL
);
