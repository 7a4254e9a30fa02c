-- Job records of jobs_sdk. Times are milliseconds since the epoch (UTC).
CREATE TABLE sdk_jobs (
    id           TEXT    PRIMARY KEY,
    type         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,                 -- JSON
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_retries  INTEGER NOT NULL,
    retry_delay  INTEGER NOT NULL,                 -- seconds
    result       TEXT,                             -- JSON
    error        TEXT,
    created_at   INTEGER NOT NULL,
    scheduled_at INTEGER NOT NULL,                 -- not run before this
    completed_at INTEGER,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX sdk_jobs_by_type ON sdk_jobs (type, status, created_at);
CREATE INDEX sdk_jobs_by_status ON sdk_jobs (status, created_at);
