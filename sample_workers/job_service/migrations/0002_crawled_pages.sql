-- Pages seen by crawl-website jobs; a crawl that runs again updates its rows.
CREATE TABLE crawled_pages (
    job_id     TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    status     INTEGER NOT NULL,                 -- 0: could not be fetched
    title      TEXT,
    crawled_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, url)
);
