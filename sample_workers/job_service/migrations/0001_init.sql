-- Job records of the job service. Times are milliseconds since the epoch (UTC).
CREATE TABLE jobs (
    id           TEXT    PRIMARY KEY,
    type         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,                 -- JSON
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    priority     INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    -- Bumped by POST /jobs/:id/retry: queue messages of an earlier run are ignored.
    run          INTEGER NOT NULL DEFAULT 1,
    result       TEXT,                             -- JSON
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER,
    completed_at INTEGER                           -- when it completed, failed or was cancelled
);

CREATE INDEX jobs_by_priority ON jobs (priority DESC, created_at, id);
CREATE INDEX jobs_by_status ON jobs (status, priority DESC, created_at);
CREATE INDEX jobs_finished ON jobs (status, completed_at);

-- Rows written by batch-import jobs; an import that runs twice upserts the same rows.
CREATE TABLE imported_records (
    source      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    data        TEXT    NOT NULL,                  -- JSON
    job_id      TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (source, record_id)
);
