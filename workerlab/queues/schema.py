"""The queue store's tables, and the upgrade of a store written by an older workerlab.

``messages`` holds every message not yet acked. A row is waiting (``owner`` NULL) until
``ready_ms``, or leased to a process (``owner``) while a pushed batch of it is in flight. A
pulled message stays unowned: its ``ready_ms`` moves to the end of its lease (so it comes back
by itself when the lease runs out) and ``lease_ms`` records that lease. ``queue_state`` holds
per queue what must not be counted row by row: paused or not, the backlog's size, and how many
messages left without being acked (expired, dead-lettered, dropped); ``counts_owed`` the processes
that owe those counters inserts not yet counted (:mod:`.owed_counts`; version 4). Only the waiting
rows are indexed: an index of the rows in flight would cost every delivery two more index writes.
"""

from __future__ import annotations

import sqlite3

#: The schema this workerlab writes; a store with a newer one is refused.
SCHEMA_VERSION = 4

_TABLES = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    ready_ms INTEGER NOT NULL,
    owner TEXT,
    lease_ms INTEGER,
    source TEXT
);
CREATE INDEX IF NOT EXISTS messages_waiting ON messages (queue, ready_ms) WHERE owner IS NULL;
CREATE TABLE IF NOT EXISTS dropped (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dropped_by_queue ON dropped (queue, seq);
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_state (
    queue TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    backlog_count INTEGER NOT NULL DEFAULT 0,
    backlog_bytes INTEGER NOT NULL DEFAULT 0,
    expired INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts_owed (
    marker TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
) WITHOUT ROWID
"""

# Version 1 had no pull leases, message sources nor per-queue state; version 2 indexed the rows
# in flight instead of counting them.
_FROM_VERSION_1 = (
    "ALTER TABLE messages ADD COLUMN lease_ms INTEGER",
    "ALTER TABLE messages ADD COLUMN source TEXT",
)
_FROM_VERSION_2 = ("DROP INDEX IF EXISTS messages_leased",)
_BACKFILL_STATE = """
INSERT INTO queue_state (queue, backlog_count, backlog_bytes, dropped)
SELECT queue, sum(messages), sum(bytes), sum(dropped) FROM (
    SELECT queue, count(*) AS messages, total(length(body)) AS bytes, 0 AS dropped
    FROM messages GROUP BY queue
    UNION ALL
    SELECT queue, 0, 0, count(*) FROM dropped GROUP BY queue
) GROUP BY queue
"""


def create_or_upgrade(connection: sqlite3.Connection, version: int) -> None:
    """Bring a store at schema ``version`` (0: new) to :data:`SCHEMA_VERSION`, inside the caller's
    transaction."""
    steps = {1: _FROM_VERSION_1, 2: _FROM_VERSION_2}.get(version, ())
    for statement in steps:
        connection.execute(statement)
    for statement in filter(str.strip, _TABLES.split(";")):
        connection.execute(statement)
    if version == 1:
        connection.execute(_BACKFILL_STATE)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
