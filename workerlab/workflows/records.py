"""Instances and their steps as the harness and the inspector show them, read from the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .store import InstanceRow, StepRow, WorkflowStore
from .values import decode_value

#: The step kinds as Cloudflare names them in an instance's history.
STEP_TYPES = {"do": "do", "sleep": "sleep", "event": "waitForEvent"}


@dataclass(frozen=True)
class StepRecord:
    """One step call of an instance.

    ``outcome`` is ``ok``, ``error``, ``running`` (an attempt in flight, or cut short by a stop),
    ``retry`` (failed, waiting for its retry) or ``waiting`` (a sleep or an event not over yet);
    ``attempts`` counts the attempts started (1 for a sleep or an event wait)."""

    name: str
    type: str
    attempts: int
    outcome: str
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class InstanceRecord:
    """An instance with its status, its steps in the order they were first reached, and its
    output (``complete``) or error (``errored``: ``{name, message}``)."""

    id: str
    status: str
    steps: list[StepRecord]
    params: Any = None
    output: Any = None
    error: dict[str, str] | None = None


def instance_records(store: WorkflowStore, workflow: str) -> list[InstanceRecord]:
    """Every instance of ``workflow``, oldest first."""
    return [_record(store, row) for row in store.instances(workflow)]


def _record(store: WorkflowStore, row: InstanceRow) -> InstanceRecord:
    outcome = store.outcome(row.seq)
    error = None
    if outcome.error_name is not None:
        error = {"name": outcome.error_name, "message": outcome.error_message or ""}
    return InstanceRecord(
        id=row.id,
        status=outcome.status,
        steps=[_step(step) for step in store.instance_steps(row.seq)],
        params=decode_value(row.params),
        output=None if outcome.output is None else decode_value(outcome.output),
        error=error,
    )


def _step(row: StepRow) -> StepRecord:
    error = None
    if row.error_name is not None:
        error = {"name": row.error_name.partition("/")[0], "message": row.error_message or ""}
    return StepRecord(row.name, STEP_TYPES.get(row.kind, row.kind), row.attempts, row.state, error)
