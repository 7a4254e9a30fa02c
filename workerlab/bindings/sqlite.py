"""SQLite files shared by bindings and processes: connections, file names, SQL scripts."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import StorageError
from ..sqlite import LockWait, connect

T = TypeVar("T")

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_file_name(name: str) -> str:
    """A file name for a configured name that cannot leave its folder.

    Plain names (letters, digits, ``._-``) are kept so the files are easy to find;
    anything else is replaced by a hash of the name.
    """
    if _SAFE_NAME.fullmatch(name) and ".." not in name:
        return name
    return "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Database:
    """One SQLite connection, usable from any thread, one call at a time.

    ``path`` None is a private in-memory database. On disk the file is in WAL mode, so several
    processes can share it; ``durable`` trades speed for surviving power loss
    (``synchronous=FULL``). Bindings (``on_loop``) do their work through :meth:`run`, which never
    lets another process's lock freeze the event loop; commands use ``conn`` directly and wait.
    """

    def __init__(self, path: Path | None, *, durable: bool = False, on_loop: bool = False) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._setups: list[Callable[[sqlite3.Connection], object]] = [_foreign_keys]
        try:
            connection = connect(path, durable=durable, wait_for_locks=not on_loop)
            _foreign_keys(connection)
        except (OSError, sqlite3.Error) as e:
            raise StorageError(
                f"cannot open the local database {path}: {e} (expected a writable SQLite file; "
                f"check the persist directory)"
            ) from None
        opener = None if path is None else lambda: self._prepared(connect(path, durable=durable))
        self._gate = LockWait(connection, opener, self.lock)

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection to use here: the event loop's, or (in :meth:`run`'s waiting thread) its own."""
        return self._gate.connection

    def on_connect(self, setup: Callable[[sqlite3.Connection], object]) -> None:
        """Apply ``setup`` to the connection now and to any other this database opens later."""
        self._setups.append(setup)
        setup(self.conn)

    def _prepared(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        for setup in self._setups:
            setup(connection)
        return connection

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` from the event loop (see :class:`~workerlab.sqlite.LockWait`)."""
        return await self._gate.run(lambda: work(self.conn))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taken at once, so concurrent writers queue instead of failing)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self.lock:
            self._gate.close()
            self.conn.close()


def _foreign_keys(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA foreign_keys=ON")


@dataclass(frozen=True)
class Statement:
    """One statement of a SQL script, with the line it starts on (1-based)."""

    sql: str
    line: int


def split_sql(script: str) -> list[Statement]:
    """The statements of a script, without empty ones (blank or only comments).

    Semicolons inside strings, quoted names, comments and trigger bodies do not split.
    """
    statements: list[Statement] = []
    start = 0
    has_code = False
    i = 0
    n = len(script)

    def flush(end: int) -> None:
        nonlocal start, has_code
        if has_code:
            text = script[start:end]
            lead = len(text) - len(text.lstrip())
            line = script.count("\n", 0, start + lead) + 1
            statements.append(Statement(text.strip().removesuffix(";").rstrip(), line))
        start = end
        has_code = False

    while i < n:
        ch = script[i]
        if ch == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        if ch == "/" and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if script[j] == close:
                    # A doubled quote inside a string is an escaped quote, not the end.
                    if close != "]" and j + 1 < n and script[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            has_code = True
            i = j + 1
            continue
        if ch == ";":
            if sqlite3.complete_statement(script[start : i + 1]):
                flush(i + 1)
            i += 1
            continue
        if not ch.isspace():
            has_code = True
        i += 1
    flush(n)
    return statements


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so
    ``prefix <= key < prefix_end(prefix)`` selects exactly the keys with that prefix
    and can use the key's index.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates cannot be stored
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None
