"""What an instance handle can do to its instance: the status transitions of Cloudflare Workflows.

- create → ``queued``; a run makes it ``running``; a sleep or an event wait ``waiting``; the end
  of ``run`` ``complete`` or ``errored``.
- ``pause()``: at once when nothing runs the instance, else ``waitingForPause`` until the step in
  flight ends, then ``paused``; ``resume()`` runs it again, its sleeps and retry delays moved on
  by the time it was paused (or calls off a pause not reached yet). Both are no-ops elsewhere.
- ``terminate()`` → ``terminated``, its run cancelled; an error once the instance is over.
- ``restart()`` → ``queued`` again, steps forgotten (all, or from a given step on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..bindings.results import JsObject
from ..clock import Clock
from .errors import WorkflowError
from .records import STEP_TYPES
from .run import step_key
from .store import FINISHED, InstanceRow, WorkflowStore
from .values import decode_value


class InstanceControl:
    """The instance operations over ``store``. ``stop_run(seq)`` cancels the run of an instance in
    flight in this process (and waits for it); ``wake()`` tells the engine something became due."""

    def __init__(
        self,
        store: WorkflowStore,
        clock: Clock,
        stop_run: Callable[[int], Awaitable[None]],
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._stop_run = stop_run
        self._wake = wake

    def row(self, workflow: str, id: str) -> InstanceRow:
        """The instance ``id`` of ``workflow``, or a WorkflowError (Cloudflare: instance.not_found)."""
        row = self._store.get(workflow, id)
        if row is None:
            raise WorkflowError(f'workflow "{workflow}": no instance with id "{id}" (instance.not_found)')
        return row

    def create(self, workflow: str, instances: list[tuple[str, bytes]]) -> None:
        """Queue new instances, given as (id, encoded params); all or none."""
        self._store.create(workflow, instances, self._clock.now_ms())
        self._wake()

    def status(self, row: InstanceRow) -> JsObject:
        """``{status, output?, error?}``: ``output`` once complete, ``error`` once errored."""
        outcome = self._store.outcome(row.seq)
        status = JsObject(status=outcome.status)
        if outcome.status == "errored":
            status["error"] = JsObject(
                name=outcome.error_name or "Error", message=outcome.error_message or ""
            )
        if outcome.status == "complete":
            status["output"] = None if outcome.output is None else decode_value(outcome.output)
        return status

    def pause(self, row: InstanceRow) -> None:
        """Pause at once, or at the end of the current step when a run is in flight; a no-op for
        an instance that is paused already or over."""
        if row.status in ("queued", "running", "waiting"):
            self._store.pause(row.seq, self._clock.now_ms(), at_next_step=row.owner is not None)

    def resume(self, row: InstanceRow) -> None:
        """Run a paused instance again (or call off a pause not reached yet); otherwise a no-op."""
        if row.status in ("paused", "waitingForPause"):
            self._store.resume(row.seq, self._clock.now_ms())
            self._wake()

    async def terminate(self, row: InstanceRow) -> None:
        """End the instance now (its run in flight is cancelled); an error once it is over."""
        if row.status in FINISHED:
            raise WorkflowError(
                f'workflow "{row.workflow}": instance "{row.id}" is {row.status}, so it cannot be '
                "terminated (instance.cannot_terminate)"
            )
        self._store.finish(row.seq, None, "terminated")
        await self._stop_run(row.seq)

    async def restart(self, row: InstanceRow, from_step: tuple[str, str, int] | None = None) -> None:
        """Run the instance again from the start with the same params, its steps forgotten; with
        ``from_step`` (kind, name, occurrence), from that step on only."""
        key = None if from_step is None else step_key(*from_step)
        if key is not None and not any(step.key == key for step in self._store.instance_steps(row.seq)):
            kind, name, count = from_step or ("", "", 0)
            raise WorkflowError(
                f'workflow "{row.workflow}": instance "{row.id}" has no {STEP_TYPES[kind]} step "{name}" '
                f"(occurrence {count}) to restart from"
            )
        await self._stop_run(row.seq)
        self._store.restart(row.seq, self._clock.now_ms(), key)
        self._wake()

    async def delete(self, row: InstanceRow) -> None:
        """Forget the instance (its run in flight is cancelled)."""
        await self._stop_run(row.seq)
        self._store.delete(row.seq)

    def send_event(self, row: InstanceRow, event_type: str, payload: bytes) -> None:
        """Keep an event for the instance; one waiting for that type becomes due now."""
        self._store.add_event(row.seq, event_type, payload, self._clock.now_ms())
        self._wake()
