"""The durable store of Workflows: one SQLite file holds every instance, step and event.

An instance row carries its status and, while it waits for a run to start, ``due_ms``: the
clock time at which the engine should (re)start it — at creation, when a sleep ends, when a
retry or an event timeout falls due, when an event arrives. An instance being run holds an
``owner`` (see :mod:`.owners`). A step row records one ``step.do``, ``step.sleep`` or
``step.wait_for_event`` call, keyed by kind, name and occurrence: its attempts, its state and,
once it succeeded, its result. Nothing waits in memory: a sleeping instance is a row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ..sqlite_connections import connect
from .errors import WorkflowError

#: The database file under a persist directory.
STORE_FILE_NAME = "workflows.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    seq INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    params BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER,
    owner TEXT,
    output BLOB,
    error_name TEXT,
    error_message TEXT,
    paused_ms INTEGER,
    UNIQUE (workflow, id)
);
CREATE INDEX IF NOT EXISTS instances_due ON instances (due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS instances_owned ON instances (owner) WHERE owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS steps (
    instance INTEGER NOT NULL,
    key TEXT NOT NULL,
    ord INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER,
    event_type TEXT,
    result BLOB,
    error_name TEXT,
    error_message TEXT,
    PRIMARY KEY (instance, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    instance INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    taken_by TEXT
);
CREATE INDEX IF NOT EXISTS events_untaken ON events (instance, type, seq) WHERE taken_by IS NULL;
"""

#: Statuses in which an instance is over: nothing runs it again unless it is restarted.
FINISHED = frozenset({"complete", "errored", "terminated"})

_INSTANCE_COLUMNS = "seq, workflow, id, status, params, created_ms, due_ms, owner"
_STEP_COLUMNS = "key, name, kind, state, attempts, due_ms, event_type, result, error_name, error_message"


class InstanceRow(NamedTuple):
    seq: int
    workflow: str
    id: str
    status: str
    params: bytes
    created_ms: int
    due_ms: int | None
    owner: str | None


class StepRow(NamedTuple):
    """One step call; ``state`` is running, retry (waiting to retry), waiting (a sleep or an event),
    ok or error."""

    key: str
    name: str
    kind: str
    state: str
    attempts: int
    due_ms: int | None
    event_type: str | None
    result: bytes | None
    error_name: str | None
    error_message: str | None


class StepRef(NamedTuple):
    """Where a step call is stored: its key (kind, occurrence, name), its name, and ``ord``, its
    place among the instance's steps if this call is the first to store it."""

    key: str
    name: str
    ord: int


class OutcomeRow(NamedTuple):
    status: str
    output: bytes | None
    error_name: str | None
    error_message: str | None


class EventRow(NamedTuple):
    type: str
    payload: bytes
    timestamp_ms: int


class WorkflowStore:
    """The tables above behind small methods; every write is its own transaction unless noted."""

    def __init__(self, path: Path | None, *, durable: bool = False) -> None:
        self._db = connect(path, durable=durable)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- instances -------------------------------------------------------------------------

    def create(self, workflow: str, instances: Iterable[tuple[str, bytes]], now_ms: int) -> None:
        """Add queued instances (id, encoded params), all or none; a taken id is a WorkflowError."""
        rows = [(workflow, id, params, now_ms, now_ms) for id, params in instances]
        try:
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO instances (workflow, id, status, params, created_ms, due_ms)"
                    " VALUES (?, ?, 'queued', ?, ?, ?)",
                    rows,
                )
        except sqlite3.IntegrityError:
            taken = self._taken(workflow, [row[1] for row in rows])
            raise WorkflowError(
                f'workflow "{workflow}": an instance with id "{taken}" already exists; '
                "ids are unique per workflow (use get() to reach it, or another id)"
            ) from None

    def _taken(self, workflow: str, ids: list[str]) -> str:
        seen: set[str] = set()
        for id in ids:
            if id in seen or self.get(workflow, id) is not None:
                return id
            seen.add(id)
        return ids[0]

    def get(self, workflow: str, id: str) -> InstanceRow | None:
        row = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE workflow = ? AND id = ?", (workflow, id)
        ).fetchone()
        return None if row is None else InstanceRow(*row)

    def outcome(self, seq: int) -> OutcomeRow:
        row = self._db.execute(
            "SELECT status, output, error_name, error_message FROM instances WHERE seq = ?", (seq,)
        ).fetchone()
        return OutcomeRow(*row) if row is not None else OutcomeRow("unknown", None, None, None)

    def holder(self, seq: int) -> tuple[str, str | None]:
        """The instance's status and the owner running it."""
        row = self._db.execute("SELECT status, owner FROM instances WHERE seq = ?", (seq,)).fetchone()
        return ("unknown", None) if row is None else (row[0], row[1])

    def instances(self, workflow: str) -> list[InstanceRow]:
        """Every instance of ``workflow``, oldest first."""
        rows = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE workflow = ? ORDER BY seq", (workflow,)
        )
        return [InstanceRow(*row) for row in rows]

    # --- scheduling ------------------------------------------------------------------------

    def next_due_ms(self, workflows: tuple[str, ...]) -> int | None:
        """The earliest ``due_ms`` of an unowned instance of ``workflows``."""
        marks = ",".join("?" * len(workflows))
        row = self._db.execute(
            f"SELECT due_ms FROM instances WHERE due_ms IS NOT NULL AND owner IS NULL"
            f" AND workflow IN ({marks}) ORDER BY due_ms LIMIT 1",
            workflows,
        ).fetchone()
        return None if row is None else int(row[0])

    def claim_due(self, workflows: tuple[str, ...], owner: str, now_ms: int, limit: int) -> list[InstanceRow]:
        """Take up to ``limit`` instances due by ``now_ms`` for ``owner``, earliest first; they are
        running from now on (paused and finished instances are never due)."""
        marks = ",".join("?" * len(workflows))
        with self._transaction() as db:
            rows = db.execute(
                f"UPDATE instances SET owner = ?, due_ms = NULL,"
                f" status = CASE WHEN status = 'waitingForPause' THEN status ELSE 'running' END"
                f" WHERE seq IN (SELECT seq FROM instances WHERE due_ms <= ? AND owner IS NULL"
                f" AND workflow IN ({marks}) ORDER BY due_ms, seq LIMIT ?)"
                f" RETURNING {_INSTANCE_COLUMNS}",
                (owner, now_ms, *workflows, limit),
            ).fetchall()
        return sorted((InstanceRow(*row) for row in rows), key=lambda r: (r.due_ms or 0, r.seq))

    def owners(self) -> list[str]:
        return [
            row[0] for row in self._db.execute("SELECT DISTINCT owner FROM instances WHERE owner IS NOT NULL")
        ]

    def release(self, owners: Iterable[str], now_ms: int) -> int:
        """Hand the instances of ``owners`` back to be run again from their last stored step."""
        with self._transaction() as db:
            count = 0
            for owner in owners:
                count += db.execute(
                    "UPDATE instances SET owner = NULL, due_ms = ? WHERE owner = ?", (now_ms, owner)
                ).rowcount
        return count

    # --- one run ---------------------------------------------------------------------------

    def steps(self, seq: int) -> dict[str, StepRow]:
        rows = self._db.execute(f"SELECT {_STEP_COLUMNS} FROM steps WHERE instance = ?", (seq,))
        return {row[0]: StepRow(*row) for row in rows}

    def start_attempt(self, seq: int, step: StepRef) -> int:
        """Count a new attempt of ``step`` before it runs (so a crash still counts it)."""
        row = self._db.execute(
            "INSERT INTO steps (instance, key, ord, name, kind, state, attempts) VALUES (?, ?, ?, ?, 'do',"
            " 'running', 1) ON CONFLICT (instance, key) DO UPDATE SET state = 'running',"
            " attempts = attempts + 1, due_ms = NULL RETURNING attempts",
            (seq, step.key, step.ord, step.name),
        ).fetchone()
        return int(row[0])

    def put_step(
        self,
        seq: int,
        step: StepRef,
        kind: str,
        state: str,
        *,
        due_ms: int | None = None,
        event_type: str | None = None,
        result: bytes | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Record the state of ``step`` (created on first use)."""
        error_name, error_message = error if error is not None else (None, None)
        self._db.execute(
            "INSERT INTO steps (instance, key, ord, name, kind, state, attempts, due_ms, event_type,"
            " result, error_name, error_message)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?5 = 'do' THEN 0 ELSE 1 END, ?7, ?8, ?9, ?10, ?11)"
            " ON CONFLICT (instance, key) DO UPDATE SET state = ?6, due_ms = ?7, event_type = ?8,"
            " result = ?9, error_name = ?10, error_message = ?11",
            (
                seq,
                step.key,
                step.ord,
                step.name,
                kind,
                state,
                due_ms,
                event_type,
                result,
                error_name,
                error_message,
            ),
        )

    def receive_event(
        self, seq: int, step: StepRef, event_type: str, as_result: Callable[[EventRow], bytes]
    ) -> bytes | None:
        """Hand the oldest event of ``event_type`` sent to the instance and not yet received to
        ``step``: in one transaction the event is marked received and the step succeeds with
        ``as_result(event)``, which is returned. None when no such event waits."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT seq, type, payload, timestamp_ms FROM events WHERE instance = ? AND type = ?"
                " AND taken_by IS NULL ORDER BY seq LIMIT 1",
                (seq, event_type),
            ).fetchone()
            if row is None:
                return None
            result = as_result(EventRow(*row[1:]))
            db.execute("UPDATE events SET taken_by = ? WHERE seq = ?", (step.key, row[0]))
            self.put_step(seq, step, "event", "ok", event_type=event_type, result=result)
        return result

    def suspend(self, seq: int, owner: str, now_ms: int) -> None:
        """The run of ``owner`` stopped to wait: the instance is due again at the earliest of its
        retries, sleeps and event timeouts, or now if an event it waits for has arrived."""
        with self._transaction() as db:
            status = db.execute(
                "SELECT status FROM instances WHERE seq = ? AND owner = ?", (seq, owner)
            ).fetchone()
            if status is None:
                return
            due_ms, sleeping = db.execute(
                "SELECT MIN(due_ms), MAX(kind != 'do') FROM steps WHERE instance = ?"
                " AND state IN ('retry', 'waiting')",
                (seq,),
            ).fetchone()
            arrived = db.execute(
                "SELECT 1 FROM steps s JOIN events e ON e.instance = s.instance AND e.type = s.event_type"
                " AND e.taken_by IS NULL WHERE s.instance = ? AND s.state = 'waiting' LIMIT 1",
                (seq,),
            ).fetchone()
            if arrived is not None:
                due_ms = now_ms
            paused_ms = None
            if status[0] in ("waitingForPause", "paused"):
                new_status, due_ms, paused_ms = "paused", None, now_ms
            elif status[0] in FINISHED:
                new_status, due_ms = status[0], None
            else:
                new_status = "waiting" if sleeping else "running"
            db.execute(
                "UPDATE instances SET owner = NULL, status = ?, due_ms = ?, paused_ms = ? WHERE seq = ?",
                (new_status, due_ms, paused_ms, seq),
            )

    def finish(
        self,
        seq: int,
        owner: str | None,
        status: str,
        *,
        output: bytes | None = None,
        error: tuple[str, str] | None = None,
    ) -> bool:
        """End the instance (complete, errored, terminated); with ``owner``, only while it holds it.
        Returns whether the row changed."""
        error_name, error_message = error if error is not None else (None, None)
        query = (
            "UPDATE instances SET status = ?, owner = NULL, due_ms = NULL, output = ?, error_name = ?,"
            " error_message = ? WHERE seq = ?"
        )
        args: tuple[object, ...] = (status, output, error_name, error_message, seq)
        if owner is not None:
            query += " AND owner = ?"
            args = (*args, owner)
        return self._db.execute(query, args).rowcount > 0

    # --- control ---------------------------------------------------------------------------

    def pause(self, seq: int, now_ms: int, *, at_next_step: bool) -> None:
        """Pause the instance: at once (nothing runs it), or ``at_next_step`` of the run in flight."""
        if at_next_step:
            self._db.execute("UPDATE instances SET status = 'waitingForPause' WHERE seq = ?", (seq,))
        else:
            self._db.execute(
                "UPDATE instances SET status = 'paused', due_ms = NULL, paused_ms = ? WHERE seq = ?",
                (now_ms, seq),
            )

    def resume(self, seq: int, now_ms: int) -> None:
        """Run a paused instance again; its sleeps and retry delays move on by the time it was paused.
        A pause not yet reached (waitingForPause) is called off."""
        with self._transaction() as db:
            status, paused_ms = db.execute(
                "SELECT status, paused_ms FROM instances WHERE seq = ?", (seq,)
            ).fetchone()
            if status == "waitingForPause":
                db.execute("UPDATE instances SET status = 'running' WHERE seq = ?", (seq,))
                return
            db.execute(
                "UPDATE steps SET due_ms = due_ms + ? WHERE instance = ? AND (state = 'retry'"
                " OR (state = 'waiting' AND kind = 'sleep'))",
                (now_ms - (paused_ms or now_ms), seq),
            )
            db.execute(
                "UPDATE instances SET status = 'running', due_ms = ?, paused_ms = NULL WHERE seq = ?",
                (now_ms, seq),
            )

    def restart(self, seq: int, now_ms: int, from_key: str | None = None) -> bool:
        """Queue the instance again with its steps forgotten: all of them, or (``from_key``) that
        step and every step reached after it, whose events go back to waiting. False when
        ``from_key`` names no step of the instance."""
        with self._transaction() as db:
            if from_key is None:
                db.execute("DELETE FROM steps WHERE instance = ?", (seq,))
                db.execute("DELETE FROM events WHERE instance = ?", (seq,))
            else:
                found = db.execute(
                    "SELECT ord FROM steps WHERE instance = ? AND key = ?", (seq, from_key)
                ).fetchone()
                if found is None:
                    return False
                forgotten = db.execute(
                    "DELETE FROM steps WHERE instance = ? AND ord >= ? RETURNING key", (seq, found[0])
                ).fetchall()
                db.executemany(
                    "UPDATE events SET taken_by = NULL WHERE instance = ? AND taken_by = ?",
                    [(seq, key) for (key,) in forgotten],
                )
            db.execute(
                "UPDATE instances SET status = 'queued', due_ms = ?, owner = NULL, output = NULL,"
                " error_name = NULL, error_message = NULL, paused_ms = NULL WHERE seq = ?",
                (now_ms, seq),
            )
        return True

    def delete(self, seq: int) -> None:
        """Remove the instance with its steps and events."""
        with self._transaction() as db:
            for table, column in (("steps", "instance"), ("events", "instance"), ("instances", "seq")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (seq,))

    def add_event(self, seq: int, event_type: str, payload: bytes, now_ms: int) -> None:
        """Keep an event for the instance until a wait_for_event of its type takes it; an instance
        already waiting for that type (and not paused or being run) is due now."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO events (instance, type, payload, timestamp_ms) VALUES (?, ?, ?, ?)",
                (seq, event_type, payload, now_ms),
            )
            db.execute(
                "UPDATE instances SET due_ms = ?1 WHERE seq = ?2 AND owner IS NULL AND status = 'waiting'"
                " AND EXISTS (SELECT 1 FROM steps WHERE instance = ?2 AND state = 'waiting'"
                " AND event_type = ?3)",
                (now_ms, seq, event_type),
            )

    def instance_steps(self, seq: int) -> list[StepRow]:
        """The steps of an instance in the order they were first reached."""
        rows = self._db.execute(f"SELECT {_STEP_COLUMNS} FROM steps WHERE instance = ? ORDER BY ord", (seq,))
        return [StepRow(*row) for row in rows]
