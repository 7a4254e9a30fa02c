"""The SQLite file of one object: where it lives, how it is opened, and its open transaction.

One file per object under ``<persist>/durable_objects/<ClassName>/``, named from the id alone,
holds the object's SQL tables and its key-value pairs (:mod:`.kv`). ``persist_dir`` None keeps
the database in memory.

A new object's file starts as a copy of an empty database already in WAL mode with the
key-value table: letting SQLite make each one costs a rollback-journal commit to switch it to WAL
(four syncs to disk) and a commit for the table, much of an object's first write. The copy
appears under its final name whole or not at all (written aside, then linked).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import secrets
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from ..errors import StorageError
from ..file_names import safe_file_name
from .gate import InputGate
from .kv import SCHEMA
from .sql import SqlGuard
from .sqlfile import SqliteFile

#: The folder of Durable Object storage under a persist directory.
DURABLE_OBJECTS_DIR = "durable_objects"
_ID_SHAPE = re.compile(r"[0-9a-f]{64}")
#: SQLite's page cache of one object's database, in KiB (``PRAGMA cache_size``; SQLite's default
#: is 2,000 KiB per connection). Reads past it come from the operating system's file cache.
OBJECT_PAGE_CACHE_KIB = 256


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


@functools.cache
def empty_database() -> bytes:
    """The bytes of a new object's database: empty, in WAL mode, with the key-value table."""
    with tempfile.TemporaryDirectory(prefix="workerlab-") as folder:
        path = Path(folder) / "empty.sqlite3"
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = OFF")  # a scratch file: nothing to keep
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(SCHEMA)
        finally:
            conn.close()  # checkpoints the WAL into the file and removes it
        return path.read_bytes()


def create_object_file(path: Path, *, durable: bool) -> None:
    """Make ``path`` a new object's database unless it exists. It is written aside and linked
    into place, so that no crash leaves a part of it and no other process's file is replaced;
    ``durable`` syncs it and its folder to disk first. Where hard links are refused, SQLite makes
    the file when it opens it."""
    if path.exists():
        return
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    aside = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new"
    with open(aside, "xb") as out:
        out.write(empty_database())
        if durable:
            out.flush()
            os.fsync(out.fileno())
    try:
        os.link(aside, path)
    except FileExistsError:
        return  # another process made it meanwhile: theirs is the file
    except OSError:
        return
    finally:
        os.unlink(aside)
    if durable:
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # folders cannot be opened here (Windows): their entries are synced with them
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ObjectStore:
    """One object's open database, with the guard on user SQL and its transaction bookkeeping."""

    def __init__(self, path: Path | None, *, durable: bool, gate: InputGate) -> None:
        self.path = path
        if path is not None:
            try:
                create_object_file(path, durable=durable)
            except OSError as error:
                raise StorageError(f"cannot create the Durable Object storage file {path}: {error}") from None
        self.file = SqliteFile(path, durable=durable, gate=gate)
        self.guard = SqlGuard()
        conn = self.file.conn
        try:
            conn.execute(f"PRAGMA cache_size = -{OBJECT_PAGE_CACHE_KIB}")
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
