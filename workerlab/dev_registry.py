"""Which `workerlab dev` process runs which worker, recorded in the shared persist directory.

Each running `workerlab dev` records its workers with its address, its pid and a token that
callers must send back. A service binding to a worker this process has not loaded looks the
worker up here and calls it over loopback HTTP (:mod:`workerlab.bindings.service_remote`).
An entry whose process is gone counts as absent.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .clock import SystemClock
from .errors import StorageError
from .process import process_alive
from .sqlite_connections import connect

#: Where a `workerlab dev` process takes service calls for the workers it runs.
RPC_PATH_PREFIX = "/cdn-cgi/workerlab/rpc/"
#: The header that carries the registry token.
TOKEN_HEADER = "x-workerlab-token"
#: The registry's file under a persist directory.
REGISTRY_FILE_NAME = "workers.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    pid INTEGER NOT NULL,
    token TEXT NOT NULL,
    started_ms INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class RunningWorker:
    """A worker served by a `workerlab dev` process: RPC goes to ``url`` with ``token``."""

    name: str
    url: str
    pid: int
    token: str


def new_token() -> str:
    """The secret a process's RPC endpoint asks for (it stands in the registry for its peers)."""
    return secrets.token_hex(16)


class DevRegistry:
    """The registry of one persist directory."""

    def __init__(self, persist_dir: Path) -> None:
        self.path = persist_dir / REGISTRY_FILE_NAME
        try:
            self._db = connect(self.path)
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(
                f"cannot open the worker registry {self.path}: {error} (the persist directory must be "
                "writable; set it with --persist-to)",
                code="registry",
            ) from None

    def register(self, names: Iterable[str], url: str, token: str) -> None:
        """Record this process as the one serving ``names`` (replacing a stopped or older entry)."""
        now_ms = SystemClock().now_ms()
        rows = [(name, url, os.getpid(), token, now_ms) for name in names]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO workers VALUES (?, ?, ?, ?, ?)", rows)

    def unregister(self, names: Iterable[str]) -> None:
        """Remove this process's entries for ``names`` (entries another process took over stay)."""
        with self._db:
            self._db.executemany(
                "DELETE FROM workers WHERE name = ? AND pid = ?", [(name, os.getpid()) for name in names]
            )

    def lookup(self, name: str) -> RunningWorker | None:
        """The live process serving ``name``, or None."""
        row = self._db.execute("SELECT name, url, pid, token FROM workers WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        worker = RunningWorker(*row)
        return worker if process_alive(worker.pid) else None

    def close(self) -> None:
        self._db.close()
