"""The store's file: upgrading one an older workerlab wrote, refusals that give the right advice, and
a stored message that cannot be decoded failing alone."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_queue_support import Brokers

from workerlab.config import QueueConsumer
from workerlab.errors import StorageError
from workerlab.queues.open_errors import open_error
from workerlab.queues.schema import SCHEMA_VERSION
from workerlab.queues.store import QueueStore

# The tables as workerlab wrote them before pull leases and per-queue state (schema version 1).
VERSION_1 = """
CREATE TABLE messages (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, ready_ms INTEGER NOT NULL, owner TEXT);
CREATE INDEX messages_waiting ON messages (queue, ready_ms) WHERE owner IS NULL;
CREATE TABLE dropped (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, attempts INTEGER NOT NULL);
CREATE INDEX dropped_by_queue ON dropped (queue, seq);
CREATE TABLE owners (owner TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL);
INSERT INTO messages (queue, id, timestamp_ms, content_type, body, ready_ms) VALUES
    ('jobs', 'a', 1, 'json', CAST('"one"' AS BLOB), 1), ('jobs', 'b', 2, 'json', CAST('"two"' AS BLOB), 2),
    ('other', 'c', 3, 'text', CAST('x' AS BLOB), 3);
INSERT INTO dropped (queue, id, timestamp_ms, content_type, body, attempts)
    VALUES ('jobs', 'd', 4, 'json', CAST('1' AS BLOB), 4);
PRAGMA user_version = 1;
"""


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


def test_a_version_1_store_is_upgraded_in_place_with_its_counters(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(VERSION_1)
    old.close()

    store = QueueStore.open(path)
    try:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        jobs = store.state("jobs")
        assert (jobs.backlog_count, jobs.backlog_bytes, jobs.dropped) == (2, 10, 1)
        assert store.state("other").backlog_count == 1
        assert [row.body for row in store.pending("jobs")] == [b'"one"', b'"two"']
        assert store.queues() == ["jobs", "other"]
    finally:
        store.close()
    QueueStore.open(path).close()  # opening again changes nothing


def test_a_version_2_store_loses_its_index_of_the_rows_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path)
    store.insert("jobs", [("a" * 32, 1, "json", b"1", 1), ("b" * 32, 1, "json", b"22", 1)])
    store.connection.executescript(  # back to what version 2 wrote
        "CREATE INDEX messages_leased ON messages (queue, seq) WHERE owner IS NOT NULL;"
        "PRAGMA user_version = 2;"
    )
    store.close()

    store = QueueStore.open(path)
    try:
        db = store.connection
        assert "messages_leased" not in [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
        assert (store.state("jobs").backlog_count, store.state("jobs").backlog_bytes) == (2, 3)
    finally:
        store.close()


def test_a_version_3_store_gets_the_table_of_counts_owed(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path)
    store.insert("jobs", [("a" * 32, 1, "json", b"1", 1)])
    store.connection.executescript("DROP TABLE counts_owed; PRAGMA user_version = 3;")  # as version 3 left it
    store.close()

    store = QueueStore.open(path)
    try:
        db = store.connection
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert db.execute("SELECT count(*) FROM counts_owed").fetchone() == (0,)
        assert store.state("jobs").backlog_count == 1
    finally:
        store.close()


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    QueueStore.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="is newer than this workerlab understands"):
        QueueStore.open(path)


def test_a_file_that_is_not_a_database_gets_advice_to_move_it(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="expected a workerlab queue database \\(move the file away"):
        QueueStore.open(path)


def test_a_persist_directory_that_cannot_be_created_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError) as caught:
        QueueStore.open(blocker / "state")
    assert "cannot open the queue store" in caught.value.message
    assert "move the file away" not in caught.value.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_an_unwritable_persist_directory_is_named_without_advice_to_delete(tmp_path: Path) -> None:
    state = tmp_path / "state"
    QueueStore.open(state).close()
    state.chmod(0o500)
    (state / "queues.sqlite3").chmod(0o400)
    try:
        with pytest.raises(StorageError) as caught:
            QueueStore.open(state)
    finally:
        state.chmod(0o700)
    assert caught.value.code == "queue-store-unwritable"
    assert "must be writable by this user" in caught.value.message
    assert "delete" not in caught.value.message and "move the file" not in caught.value.message


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("attempt to write a readonly database"),
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.EROFS, "Read-only file system"),
    ],
)
def test_what_says_the_store_cannot_be_written_gets_the_permissions_advice(
    tmp_path: Path, error: Exception
) -> None:
    refusal = open_error(tmp_path / "state" / "queues.sqlite3", error)  # type: ignore[arg-type]
    assert refusal.code == "queue-store-unwritable"
    assert f"the persist directory {tmp_path / 'state'} must be writable" in refusal.message
    assert "move the file away" not in refusal.message


async def test_an_undecodable_message_fails_alone_and_the_rest_are_delivered(
    brokers: Brokers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    consumer_settings = QueueConsumer("jobs", max_batch_timeout_s=0, dead_letter_queue="jobs-dlq")
    broker, consumer, clock = brokers(consumer_settings)
    now = clock.now_ms()
    broker.store.insert(
        "jobs",
        [
            ("a" * 32, now, "json", b'"fine"', now),
            ("b" * 32, now, "json", b"{broken", now),
            ("c" * 32, now, "mystery", b"?", now),
            ("d" * 32, now, "json", b'"also fine"', now),
        ],
    )

    await broker.drain()

    assert consumer.bodies() == [["fine", "also fine"]]
    assert [m.id for m in broker.pending("jobs-dlq")] == ["b" * 32, "c" * 32]
    assert broker.pending("jobs") == []
    assert f'message "{"b" * 32}" cannot be decoded' in caplog.text
    assert "QUEUE jobs 2/4" in caplog.text


async def test_a_batch_of_nothing_but_undecodable_messages_runs_no_handler(brokers: Brokers) -> None:
    broker, consumer, clock = brokers(QueueConsumer("jobs", max_batch_timeout_s=0))
    now = clock.now_ms()
    broker.store.insert("jobs", [("a" * 32, now, "v8", b"\xff\xff", now)])
    await broker.drain()
    assert consumer.batches == []
    assert [m.id for m in broker.dropped("jobs")] == ["a" * 32]
