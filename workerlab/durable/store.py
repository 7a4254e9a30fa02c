"""The SQLite file of one object: where it lives, how it is opened, and its open transaction.

One file per object under ``<persist>/durable_objects/<ClassName>/``, named from the id alone,
holds the object's SQL tables and its key-value pairs (:mod:`.kv`). ``persist_dir`` None keeps
the database in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import StorageError
from ..sqlite_connections import safe_file_name
from .gate import InputGate
from .kv import SCHEMA
from .sql import SqlGuard
from .sqlfile import SqliteFile

#: The folder of Durable Object storage under a persist directory.
DURABLE_OBJECTS_DIR = "durable_objects"
_ID_SHAPE = re.compile(r"[0-9a-f]{64}")


def class_dir(persist_dir: Path, class_name: str) -> Path:
    """Where the objects of ``class_name`` keep their files."""
    return persist_dir / DURABLE_OBJECTS_DIR / safe_file_name(class_name)


def object_file_name(object_id: str) -> str:
    """The file name of an object's database: its id when it is one (64 hex digits), else a hash
    of whatever it is, so that no id can name a path outside the class's folder."""
    if _ID_SHAPE.fullmatch(object_id):
        return f"{object_id}.sqlite3"
    digest = hashlib.sha256(object_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"h-{digest}.sqlite3"


def object_id_of(file_name: str) -> str | None:
    """The id an object file was named after (None for files of another shape)."""
    stem = file_name.removesuffix(".sqlite3")
    return stem if stem != file_name and _ID_SHAPE.fullmatch(stem) else None


class ObjectStore:
    """One object's open database, with the guard on user SQL and its transaction bookkeeping."""

    def __init__(self, path: Path | None, *, durable: bool, gate: InputGate) -> None:
        self.path = path
        self.file = SqliteFile(path, durable=durable, gate=gate)
        self.guard = SqlGuard()
        conn = self.file.conn
        try:
            conn.execute("PRAGMA foreign_keys = ON")  # as Cloudflare enforces them
            conn.execute(SCHEMA)
        except sqlite3.Error as error:
            self.file.close()
            raise StorageError(f"cannot prepare the Durable Object storage file {path}: {error}") from None
        conn.set_authorizer(self.guard)
        self.closed = False
        #: The outermost transaction() under way, if any (see :mod:`.transactions`).
        self.transaction: Any = None
        #: Set while no transaction() is under way; others wait on it.
        self.no_transaction = asyncio.Event()
        self.no_transaction.set()

    def snapshot(self) -> bytes:
        """The whole database as bytes (an in-memory database outliving its connection)."""
        return self.file.conn.serialize()

    def restore(self, snapshot: bytes) -> None:
        """Load what :meth:`snapshot` gave into this (in-memory) database."""
        self.file.conn.deserialize(snapshot)

    def close(self) -> None:
        self.closed = True
        self.file.close()
