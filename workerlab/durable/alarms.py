"""Alarms: one per object, kept in one index database for every class, so that the next one due
is found without opening any object's file.

``<persist>/durable_objects/alarms.sqlite3`` holds a row per object that has an alarm: its time
and how many retries it has had. A row leaves the index only when its run succeeded (or was
dropped after its last retry), so an alarm whose run a crash interrupted runs again at the next
start. :class:`AlarmBook` is one namespace's view of the index and runs its alarms with
Cloudflare's rules; :mod:`.alarm_source` fires them on the workerlab clock.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..clock import Clock
from ..events import AlarmRun, EventBus
from ..tracebacks import format_user_traceback
from .limits import ALARM_FIRST_RETRY_DELAY_S, MAX_ALARM_RETRIES
from .names import CloudflareNames
from .sqlfile import Hold, SqliteFile
from .store import DURABLE_OBJECTS_DIR

logger = logging.getLogger("workerlab")

#: The index database under a persist directory.
ALARMS_FILE = f"{DURABLE_OBJECTS_DIR}/alarms.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    worker TEXT NOT NULL,
    class_name TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_name TEXT,           -- the name the id was made from, when known
    scheduled_ms INTEGER NOT NULL,
    retry_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (worker, class_name, object_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarms_due ON alarms (worker, class_name, scheduled_ms);
"""
_COLUMNS = "object_id, object_name, scheduled_ms, retry_count"
_BY_TIME = f"SELECT {_COLUMNS} FROM alarms WHERE worker = ? AND class_name = ? ORDER BY scheduled_ms"
_DUE = (
    f"SELECT {_COLUMNS} FROM alarms WHERE worker = ? AND class_name = ? AND scheduled_ms <= ? "
    "ORDER BY scheduled_ms"
)
_DUE_FIRST = f"{_DUE} LIMIT ?"
_FIRST = f"{_BY_TIME} LIMIT ?"
_ONE = f"SELECT {_COLUMNS} FROM alarms WHERE worker = ? AND class_name = ? AND object_id = ?"
_SET = """
INSERT INTO alarms (worker, class_name, object_id, object_name, scheduled_ms, retry_count)
VALUES (?, ?, ?, ?, ?, 0)
ON CONFLICT (worker, class_name, object_id) DO UPDATE SET
    scheduled_ms = excluded.scheduled_ms,
    retry_count = 0,
    object_name = coalesce(excluded.object_name, object_name)
"""
_RETRY = (
    "UPDATE alarms SET scheduled_ms = ?, retry_count = ? "
    "WHERE worker = ? AND class_name = ? AND object_id = ?"
)
_DELETE = "DELETE FROM alarms WHERE worker = ? AND class_name = ? AND object_id = ?"


class Alarm(NamedTuple):
    """An alarm row: whose, when (epoch ms) and after how many retries."""

    object_id: str
    object_name: str | None
    scheduled_ms: int
    retry_count: int


class AlarmIndex:
    """The index database (``path`` None: in memory), shared by every namespace of a session."""

    def __init__(self, path: Path | None, *, durable: bool = False) -> None:
        self.file = SqliteFile(path, durable=durable)
        self.file.call_blocking(lambda conn: conn.executescript(_SCHEMA))

    @classmethod
    def open(cls, persist_dir: Path | None, *, durable: bool = False) -> AlarmIndex:
        return cls(None if persist_dir is None else persist_dir / ALARMS_FILE, durable=durable)

    def read(self, query: str, params: tuple[Any, ...]) -> list[Alarm]:
        return self.file.call_blocking(lambda conn: [Alarm(*row) for row in conn.execute(query, params)])

    def close(self) -> None:
        self.file.close()


@dataclass
class _Running:
    """An alarm run under way; ``changed`` once the object set or deleted its alarm meanwhile."""

    changed: bool = False


class AlarmInvocationInfo(CloudflareNames):
    """What ``alarm(alarm_info)`` receives: ``retryCount`` (0 on the first run), ``isRetry``,
    and ``scheduledTime`` (the alarm's time, epoch ms)."""

    __slots__ = ("retryCount", "scheduledTime")

    def __init__(self, retry_count: int, scheduled_ms: int) -> None:
        self.retryCount = retry_count
        self.scheduledTime = scheduled_ms

    @property
    def isRetry(self) -> bool:
        return self.retryCount > 0

    def __repr__(self) -> str:
        return f"AlarmInvocationInfo(retryCount={self.retryCount}, isRetry={self.isRetry})"


#: Runs the alarm() handler of an object (id, name, info); raises what the handler raised.
Fire = Callable[[str, "str | None", AlarmInvocationInfo], Awaitable[None]]


def retry_delay_s(retry: int) -> int:
    """How long after a failure the ``retry``-th retry (1-based) runs: 2, 4, 8, ... seconds."""
    return int(ALARM_FIRST_RETRY_DELAY_S * 2 ** (retry - 1))


class AlarmBook:
    """The alarms of one namespace: what its objects' storage calls change, and how one runs."""

    def __init__(
        self,
        index: AlarmIndex,
        worker: str,
        class_name: str,
        fire: Fire,
        *,
        clock: Clock,
        bus: EventBus,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.index = index
        self.worker = worker
        self.class_name = class_name
        self._fire = fire
        self._clock = clock
        self._bus = bus
        self._on_change = on_change
        self._key = (worker, class_name)
        self._running: dict[str, _Running] = {}

    # --- what storage calls (getAlarm, setAlarm, deleteAlarm) ----------------------------------

    def get(self, object_id: str) -> int | None:
        """The object's alarm time (epoch ms); None while its alarm runs, unless it set a new one."""
        running = self._running.get(object_id)
        if running is not None and not running.changed:
            return None
        alarm = self.find(object_id)
        return None if alarm is None else alarm.scheduled_ms

    def find(self, object_id: str) -> Alarm | None:
        rows = self.index.read(_ONE, (*self._key, object_id))
        return rows[0] if rows else None

    def set(
        self, object_id: str, object_name: str | None, when_ms: int, hold: Hold | None
    ) -> Awaitable[None]:
        """Set (or replace) the object's alarm, now; retries start again from zero."""
        return self._change(object_id, _SET, (*self._key, object_id, object_name, when_ms), hold)

    def delete(self, object_id: str, hold: Hold | None) -> Awaitable[None]:
        """Remove the object's alarm, now."""
        return self._change(object_id, _DELETE, (*self._key, object_id), hold)

    def _change(
        self, object_id: str, query: str, params: tuple[Any, ...], hold: Hold | None
    ) -> Awaitable[None]:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(query, params)
            running = self._running.get(object_id)
            if running is not None:
                running.changed = True
            self._on_change()

        return self.index.file.run(write, hold)

    # --- what the alarm source asks ------------------------------------------------------------

    def next_due_ms(self) -> int | None:
        """The time of the earliest alarm not running now."""
        # Among the first (running + 1) rows by time, one at least is not running.
        rows = self.index.read(_FIRST, (*self._key, len(self._running) + 1))
        return next((alarm.scheduled_ms for alarm in rows if alarm.object_id not in self._running), None)

    def due(self, now_ms: int, limit: int | None = None) -> list[Alarm]:
        """The alarms due at ``now_ms`` and not running, earliest first (the first ``limit``)."""
        if limit is None:
            rows = self.index.read(_DUE, (*self._key, now_ms))
        else:
            rows = self.index.read(_DUE_FIRST, (*self._key, now_ms, limit + len(self._running)))
        due = [alarm for alarm in rows if alarm.object_id not in self._running]
        return due if limit is None else due[:limit]

    def is_running(self, object_id: str) -> bool:
        return object_id in self._running

    def claim(self, object_id: str) -> None:
        """Count the object's alarm as running from now (its run is about to start)."""
        self._running[object_id] = _Running()

    def object_ids(self) -> list[tuple[str, str | None]]:
        return [(alarm.object_id, alarm.object_name) for alarm in self.index.read(_BY_TIME, self._key)]

    async def run(self, alarm: Alarm, *, retry: bool = True) -> BaseException | None:
        """Run ``alarm`` now, then keep, retry or drop it by Cloudflare's rules (``retry`` False:
        remove it even when it fails); return the handler's error (None when it succeeded). An
        interrupted run leaves the alarm in place."""
        object_id = alarm.object_id
        running = self._running.setdefault(object_id, _Running())
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            try:
                await self._fire(
                    object_id, alarm.object_name, AlarmInvocationInfo(alarm.retry_count, alarm.scheduled_ms)
                )
            except Exception as raised:
                error = raised
                logger.error(
                    "alarm() of %s %s raised:\n%s",
                    self.class_name,
                    object_id[:8],
                    format_user_traceback(raised),
                )
            duration_ms = (time.perf_counter() - started) * 1000
            if not running.changed:
                await self._settle(alarm, error, retry)
        finally:
            del self._running[object_id]
        self._bus.emit(
            AlarmRun(
                self.worker,
                self.class_name,
                object_id,
                alarm.retry_count,
                "ok" if error is None else "exception",
                error,
                duration_ms,
            )
        )
        return error

    async def _settle(self, alarm: Alarm, error: BaseException | None, retry: bool) -> None:
        key = (*self._key, alarm.object_id)
        if error is None or not retry or alarm.retry_count >= MAX_ALARM_RETRIES:
            await self.index.file.run(lambda conn: conn.execute(_DELETE, key))
            if error is not None and retry:
                logger.warning(
                    "ALARM %s %s dropped: alarm() failed %d times (its first run and %d retries); "
                    "last error: %s: %s",
                    self.class_name,
                    alarm.object_id[:8],
                    alarm.retry_count + 1,
                    alarm.retry_count,
                    type(error).__name__,
                    error,
                )
            return
        attempt = alarm.retry_count + 1
        when_ms = self._clock.now_ms() + retry_delay_s(attempt) * 1000
        params = (when_ms, attempt, *key)
        await self.index.file.run(lambda conn: conn.execute(_RETRY, params))
        self._on_change()
