"""Closing object databases off the event loop.

Closing the last connection to a WAL database checkpoints it: SQLite copies the WAL into the
file and syncs both to disk, a few milliseconds on a busy disk. An object's database closes when
the object is evicted or leaves the open-database budget, often while another object's event
runs, so the close goes to a worker thread and the loop carries on. Nothing is lost meanwhile:
every write was committed before the close, and an object opened again gets a connection of its
own (SQLite skips the checkpoint while another connection still uses the file). Past
:data:`MAX_PENDING_CLOSES` waiting closes, a close runs inline (which bounds the open files).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from .sqlfile import SqliteFile

logger = logging.getLogger("workerlab")

#: Threads that close databases (the work is mostly waiting for the disk).
CLOSING_THREADS = 2
#: Most closes waiting for a thread; past it a database closes on the caller's thread.
MAX_PENDING_CLOSES = 64


class Closer:
    """Closes the files given to it in worker threads; :meth:`aclose` waits for them all."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self, file: SqliteFile) -> None:
        """Close ``file`` soon (at once, when many closes already wait)."""
        if len(self._pending) >= MAX_PENDING_CLOSES:
            file.close()
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(CLOSING_THREADS, thread_name_prefix="workerlab-do-close")
        future = self._executor.submit(file.close)
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        self._pending.discard(future)
        error = future.exception()
        if error is not None:
            logger.error("Closing a Durable Object database failed", exc_info=error)

    async def wait(self) -> None:
        """Return once every close given so far has finished."""
        while self._pending:
            futures = [asyncio.wrap_future(future) for future in list(self._pending)]
            await asyncio.gather(*futures, return_exceptions=True)  # failures are logged by _done

    async def aclose(self) -> None:
        """Wait for every close under way, then stop the threads."""
        await self.wait()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
