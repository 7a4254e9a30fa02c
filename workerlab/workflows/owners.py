"""Which process runs an instance, and whether that process is still alive.

An engine on a file store takes an owner id and holds an exclusive ``flock`` on a lock file
named after it, next to the store, for as long as it is open. The kernel drops the lock when
the process dies, even by ``kill -9``; so another engine tells a dead owner from a live one
by trying to take its lock, with no heartbeat to keep. A store in memory has one process only
and needs none of this.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: an owner counts as alive while its lock file exists
    fcntl = None  # type: ignore[assignment]

#: Folder (next to the store) holding one lock file per open engine.
OWNERS_DIR_NAME = "workflows.owners"


class OwnerLock:
    """This engine's owner id, and its lock file while the engine is open."""

    def __init__(self, store_path: Path | None) -> None:
        self.owner = f"{os.getpid()}-{os.urandom(6).hex()}"
        self._dir = None if store_path is None else store_path.parent / OWNERS_DIR_NAME
        self._fd: int | None = None
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path(self.owner), os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _path(self, owner: str) -> Path:
        assert self._dir is not None
        return self._dir / f"{owner}.lock"

    def is_dead(self, owner: str) -> bool:
        """Whether ``owner`` (another engine's id) belongs to a process that is gone."""
        if owner == self.owner:
            return False
        if self._dir is None:
            return True  # an in-memory store: every other owner was an engine closed before
        try:
            fd = os.open(self._path(owner), os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            if fcntl is None:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            with contextlib.suppress(FileNotFoundError):
                self._path(owner).unlink()
            return True
        finally:
            os.close(fd)

    def release(self) -> None:
        """Give up the lock and remove the lock file (the engine is closing)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._path(self.owner).unlink()
        os.close(self._fd)
        self._fd = None
