-- One row per uploaded CSV.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    total_rows INTEGER NOT NULL,
    total_chunks INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- One row per finished chunk: progress is counted here, once per chunk however often it is delivered.
CREATE TABLE import_chunks (
    import_id TEXT NOT NULL REFERENCES imports (id),
    chunk INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    imported_rows INTEGER NOT NULL,
    error_row INTEGER,
    error TEXT,
    PRIMARY KEY (import_id, chunk)
);

-- What the imports fill.
CREATE TABLE contacts (
    email TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    import_id TEXT NOT NULL
);
