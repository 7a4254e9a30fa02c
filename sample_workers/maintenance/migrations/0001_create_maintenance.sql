-- Sessions created by the rest of the application; expires_at in seconds since the epoch.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- One row per request, written after the response; rolled up every hour.
CREATE TABLE request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    status INTEGER NOT NULL
);

-- Requests and error answers (4xx and 5xx) per path and hour.
CREATE TABLE hourly_stats (
    hour TEXT NOT NULL,
    path TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (hour, path)
);
