"""SQLite connections shared by threads and processes: the one way workerlab opens its files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: How long a write waits for another process's lock before failing (workerlab's own choice).
BUSY_TIMEOUT_MS = 10_000
#: Pause between tries of switching a new file to WAL while another process holds it.
_WAL_RETRY_PAUSE_S = 0.01


def connect(path: Path | None, *, durable: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread.

    ``path`` None is a private in-memory database. A file is put in WAL mode with a busy
    timeout, so that several processes share it; ``durable`` syncs every commit to disk
    (``synchronous=FULL``: survives power loss), the default (NORMAL) survives a process crash.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        ":memory:" if path is None else str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    if path is not None:
        _enable_wal(connection)
    connection.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    return connection


def _enable_wal(connection: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs it alone for a moment; when several processes open it at
    # once SQLite may answer "database is locked" at once instead of waiting for the busy timeout.
    tries = int(BUSY_TIMEOUT_MS / 1000 / _WAL_RETRY_PAUSE_S)
    for attempt in range(tries):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(_WAL_RETRY_PAUSE_S)
