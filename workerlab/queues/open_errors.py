"""Why the queue store cannot be opened, with advice that fits the cause."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from ..errors import StorageError


def open_error(path: Path | None, error: OSError | sqlite3.Error) -> StorageError:
    """Why the store at ``path`` cannot be opened, with advice that fits the cause: only a file that
    is not a database is worth moving away; a folder that cannot be written needs its permissions."""
    folder = path.parent if path is not None else None
    text = str(error).lower()
    if isinstance(error, OSError):
        unwritable = error.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    else:
        unwritable = "readonly" in text or (
            folder is not None
            and (
                (folder.is_dir() and not os.access(folder, os.W_OK))
                or (path is not None and path.is_file() and not os.access(path, os.W_OK))
            )
        )
    if unwritable:
        return StorageError(
            f"{path}: cannot write the queue store ({error}): the persist directory {folder} must be "
            "writable by this user; fix its permissions or choose another with --persist-to",
            code="queue-store-unwritable",
        )
    if isinstance(error, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return StorageError(
            f"{path}: cannot open the queue store ({error}); expected a workerlab queue database "
            "(move the file away to start with empty queues)",
            code="queue-store",
        )
    return StorageError(
        f"{path}: cannot open the queue store ({error}); expected {path} to be a database file "
        f"that workerlab can create and write in the folder {folder}",
        code="queue-store",
    )
