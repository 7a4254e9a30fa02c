"""Backlog counters of inserts made on the event loop: written in bulk, never lost.

This process reads exact counts at once; another connection reads them once the ledger is
written; a process killed while it owes counts leaves them to be recounted from the rows by the
next to open the store, and not while a live process still owes some."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workerlab.queues.owed_counts import repair
from workerlab.queues.store import QueueStore


def rows(count: int, body: bytes = b'"job"') -> list[tuple[str, int, str, bytes, int]]:
    return [(f"m{n}", 1, "json", body, 1) for n in range(count)]


def other_connection(path: Path, queue: str) -> tuple[int, int]:
    store = QueueStore.open(path)
    try:
        found = store.state(queue)
        return found.backlog_count, found.backlog_bytes
    finally:
        store.close()


async def test_counts_read_here_are_exact_before_the_ledger_is_written(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path, on_loop=True)
    try:
        store.insert("jobs", rows(3))
        store.insert("fresh", rows(2))
        assert (store.state("jobs").backlog_count, store.state("jobs").backlog_bytes) == (3, 15)
        assert store.queues() == ["fresh", "jobs"]
        assert other_connection(path, "jobs") == (0, 0)  # not written yet: others see it soon after
        recorded = store.connection.execute("SELECT pid FROM counts_owed").fetchall()
        assert recorded == [(os.getpid(),)]
    finally:
        store.close()
    assert other_connection(path, "jobs") == (3, 15)  # written at close
    assert other_connection(path, "fresh") == (2, 10)


async def test_acks_of_owed_messages_net_out_once_written(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path, on_loop=True)
    try:
        store.insert("jobs", rows(4))
        claimed = store.claim("jobs", "me", now_ms=10, limit=3)
        store.settle("me", queue="jobs", acked=[r.seq for r in claimed], acked_bytes=15)
        assert store.state("jobs").backlog_count == 1
        assert store._owed is not None and store._owed.write()
        assert other_connection(path, "jobs") == (1, 5)
        assert store.connection.execute("SELECT count(*) FROM counts_owed").fetchone() == (0,)
    finally:
        store.close()


def test_inserts_off_the_event_loop_count_at_once(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path, on_loop=True)  # no loop runs: nothing to write the ledger later
    try:
        store.insert("jobs", rows(2))
        assert other_connection(path, "jobs") == (2, 10)
    finally:
        store.close()


async def test_a_store_closed_while_another_process_holds_it_schedules_no_more_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "queues.sqlite3"
    store = QueueStore.open(path, on_loop=True)
    store.insert("jobs", rows(2))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the store as this one closes
    monkeypatch.setattr("workerlab.queues.store.BUSY_TIMEOUT_MS", 0)
    ledger = store._owed
    try:
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ledger is not None and ledger
    assert ledger._timer is None  # nothing left to retry on a closed connection


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from workerlab.queues.store import QueueStore

    async def main():
        store = QueueStore.open(sys.argv[1], on_loop=True)
        store.insert("jobs", [(f"m{n}", 1, "json", b'"job"', 1) for n in range(5)])
        print("sent", flush=True)
        sys.stdin.readline()  # blocks the loop: the ledger is never written

    asyncio.run(main())
    """
)


def test_counts_owed_by_a_killed_process_are_recounted_by_the_next_to_open(tmp_path: Path) -> None:
    path = tmp_path / "queues.sqlite3"
    command = [sys.executable, "-c", CHILD, str(path)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stdout.readline() == "sent\n"
        child.kill()
    store = QueueStore.open(path)
    try:
        assert (store.state("jobs").backlog_count, store.state("jobs").backlog_bytes) == (5, 25)
        assert store.connection.execute("SELECT count(*) FROM counts_owed").fetchone() == (0,)
    finally:
        store.close()


def test_no_recount_while_a_live_process_owes_counts(tmp_path: Path) -> None:
    store = QueueStore.open(tmp_path / "queues.sqlite3")
    try:
        store.insert("jobs", rows(2))  # counted at once
        db = store.connection
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
        host = socket.gethostname()
        with store.transaction():
            db.execute(
                "INSERT INTO messages (queue, id, timestamp_ms, content_type, body, ready_ms)"
                " VALUES ('jobs', 'owed-by-the-dead', 1, 'json', CAST('1' AS BLOB), 1)"
            )
            db.execute("INSERT INTO counts_owed VALUES ('dead', ?, ?)", (host, int(gone.stdout)))
            db.execute("INSERT INTO counts_owed VALUES ('live', ?, ?)", (host, os.getpid()))
            assert not repair(db)  # the rows the live one owes for would be counted twice
            db.execute("DELETE FROM counts_owed WHERE marker = 'live'")
            assert repair(db)
        assert store.state("jobs").backlog_count == 3
    finally:
        store.close()
