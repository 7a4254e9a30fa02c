"""The Workflows engine: registered workflows, their instances, and the runs that move them on.

The engine is a :class:`~workerlab.timers.TimeSource` of kind ``"workflows"``. Everything that
falls due on the workerlab clock — a new instance, the end of a sleep, a retry, an event timeout,
an event that arrived, a step attempt past its timeout — makes an instance due (or an attempt
late) in the store, and the engine starts a run for each due instance: ``workerlab dev`` through
:meth:`WorkflowEngine.run` on the real clock, the harness through :meth:`next_due_s` and
:meth:`run_due` on a fake one. Waiting instances hold no task.

Wiring::

    engine = WorkflowEngine(persist_dir / STORE_FILE_NAME, clock, bus)   # or None: in memory
    engine.register("export", "my-worker", ExportWorkflow, lambda: env, background_work)
    env["EXPORT"] = engine.binding("export")
    timers.add(engine)
    ...
    await engine.close()     # instances mid-step go on at the next start
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bindings.results import JsObject
from ..clock import Clock, utc_from_ms
from ..context import BackgroundWork, ExecutionContext, current_context
from ..events import EventBus
from ..timers import Wakeup, run_on_clock
from ..tracebacks import format_user_traceback
from .binding import WorkflowBinding
from .control import InstanceControl
from .errors import WorkflowError
from .owners import OwnerLock
from .records import InstanceRecord, instance_records
from .run import Run, Suspend
from .step import StepForm, WorkflowStep
from .store import InstanceRow, WorkflowStore
from .values import decode_value, encode_value, error_fields

logger = logging.getLogger("workerlab")

#: Steps one instance may run (Cloudflare Workflows default ``limits.steps``: 10,000).
DEFAULT_STEP_LIMIT = 10_000
#: How long (real time) run_due waits on runs that make no progress — step code blocked on
#: something only time or the outside will end — before it returns and leaves them in flight:
#: their step timeouts fall due on the clock like everything else (workerlab's own choice).
SETTLE_S = 0.5
#: Turns of the event loop run_due gives runs it found blocked before, to see them move on.
STALL_PEEK_TURNS = 20
#: Due instances claimed from the store at a time (workerlab's own choice).
CLAIM_BATCH = 500
#: How often (real time) a running engine looks for instances left by a process that died.
RECOVER_INTERVAL_S = 1.0


@dataclass(frozen=True)
class _Workflow:
    worker: str
    entrypoint: type
    env_provider: Callable[[], Any]
    background_work: BackgroundWork | None
    step_limit: int
    step_form: StepForm


@dataclass
class _Active:
    run: Run
    task: asyncio.Task[None]


class WorkflowEngine:
    """Runs the instances of registered workflows from one store (``store_path`` None: in memory).

    ``durable`` syncs every commit to disk (survives power loss, slower); the default survives a
    crash of the process. ``close_grace_s`` is how long :meth:`close` lets step attempts in flight
    finish before it cancels them (a cancelled attempt runs again at the next start).
    """

    kind = "workflows"

    def __init__(
        self,
        store_path: Path | None,
        clock: Clock,
        bus: EventBus,
        *,
        durable: bool = False,
        settle_s: float = SETTLE_S,
        close_grace_s: float = 0.0,
    ) -> None:
        self._store = WorkflowStore(store_path, durable=durable)
        self._clock = clock
        self._bus = bus
        self._settle_s = settle_s
        self._close_grace_s = close_grace_s
        self._lock = OwnerLock(store_path)
        self._workflows: dict[str, _Workflow] = {}
        self._names: tuple[str, ...] = ()
        self._bindings: dict[str, WorkflowBinding] = {}
        self._active: dict[int, _Active] = {}
        self._wakeup = Wakeup(clock)
        self._progress = 0
        self._stalled_at: int | None = None
        self._recovered_at = 0.0
        self._closing = False
        self._closed = False
        self.control = InstanceControl(self._store, clock, self._stop_run, self._wakeup.wake)
        self._recover()

    @property
    def store(self) -> WorkflowStore:
        """The store itself, for readers such as an inspector or a benchmark."""
        return self._store

    # --- wiring ----------------------------------------------------------------------------

    def register(
        self,
        name: str,
        worker_name: str,
        entrypoint_class: type,
        env_provider: Callable[[], Any],
        background_work: BackgroundWork | None = None,
        *,
        step_limit: int = DEFAULT_STEP_LIMIT,
        step_form: StepForm = "both",
    ) -> None:
        """Declare workflow ``name`` (``[[workflows]] name``), run by ``entrypoint_class`` of
        ``worker_name``; ``env_provider()`` gives that worker's env when a run starts.

        ``step_limit`` is ``[[workflows]] limits.steps``; ``step_form`` which ``step.do`` the
        worker's compatibility date gives it (see :data:`~.step.StepForm`)."""
        if name in self._workflows:
            raise WorkflowError(
                f'workflow "{name}" is declared twice (by worker "{self._workflows[name].worker}" and '
                f'worker "{worker_name}"); workflow names are unique'
            )
        run = getattr(entrypoint_class, "run", None)
        if not callable(run):
            raise WorkflowError(
                f'workflow "{name}": class {entrypoint_class.__name__} of worker "{worker_name}" has no '
                "run(self, event, step) method"
            )
        self._workflows[name] = _Workflow(
            worker_name, entrypoint_class, env_provider, background_work, step_limit, step_form
        )
        self._names = tuple(self._workflows)
        self._wakeup.wake()

    def has(self, name: str) -> bool:
        """Whether the workflow ``name`` is registered."""
        return name in self._workflows

    @property
    def names(self) -> tuple[str, ...]:
        """The registered workflows' names, in registration order."""
        return self._names

    def binding(self, name: str) -> WorkflowBinding:
        """The ``env.<BINDING>`` value of workflow ``name`` (``create``, ``get``, ``create_batch``)."""
        binding = self._bindings.get(name)
        if binding is None:
            binding = self._bindings[name] = WorkflowBinding(self.control, name)
        return binding

    def instances(self, workflow: str) -> list[InstanceRecord]:
        """Every instance of ``workflow`` (status, steps with attempts and outcome), oldest first."""
        return instance_records(self._store, workflow)

    # --- the time source -------------------------------------------------------------------

    def next_due_s(self) -> float | None:
        """The earliest clock time (epoch s) at which an instance is due or a step attempt times out."""
        due = [] if self._closing or not self._names else [self._store.next_due_ms(self._names)]
        due.extend(
            attempt.deadline_ms
            for active in self._active.values()
            for attempt in active.run.attempts
            if not attempt.timed_out
        )
        earliest = min((d for d in due if d is not None), default=None)
        return None if earliest is None else earliest / 1000

    async def run_due(self) -> None:
        """Start a run for every instance due now (and fail the attempts past their timeout), then
        wait until the runs end or wait again — including instances that fall due meanwhile at
        this same now. Runs blocked in step code for ``settle_s`` without progress are left in
        flight: their timeouts fall due like the rest."""
        while True:
            started = self._start_due(self._clock.now_ms())
            tasks = [active.task for active in self._active.values()]
            if not tasks:
                return
            progress = self._progress
            if not started and self._stalled_at == progress and not await self._moved(tasks, progress):
                return  # the same runs, still blocked in step code since the last call
            done, _ = await asyncio.wait(tasks, timeout=self._settle_s, return_when=asyncio.FIRST_COMPLETED)
            if not done and progress == self._progress:
                self._stalled_at = progress
                return

    async def _moved(self, tasks: list[asyncio.Task[None]], progress: int) -> bool:
        """Whether runs found blocked before move on within a few turns of the event loop (something
        outside, such as a test, may have let them go)."""
        for _ in range(STALL_PEEK_TURNS):
            await asyncio.sleep(0)
            if self._progress != progress or any(task.done() for task in tasks):
                return True
        return False

    async def run(self) -> None:
        """Start runs as instances fall due on the real clock, until :meth:`close` (``workerlab dev``).
        Also picks up instances left running by a process that died, and work written by others."""
        await run_on_clock(
            self._clock, self.next_due_s, self._start_due_s, self._wakeup, lambda: self._closing
        )

    async def close(self) -> None:
        """Stop: runs are cancelled (after ``close_grace_s`` for step attempts in flight) and their
        instances are left due, to go on from their last stored step at the next start."""
        if self._closed:
            return
        self._closing = True
        self._wakeup.wake()
        tasks = [active.task for active in self._active.values()]
        if tasks and self._close_grace_s > 0:
            await asyncio.wait(tasks, timeout=self._close_grace_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._store.release([self._lock.owner], self._clock.now_ms())
        self._lock.release()
        self._store.close()
        self._closed = True

    def _start_due_s(self, now_s: float) -> None:
        if time.monotonic() - self._recovered_at > RECOVER_INTERVAL_S:
            self._recover()
        self._start_due(round(now_s * 1000))

    def _start_due(self, now_ms: int) -> int:
        """Fail the attempts past their timeout and start a run for every due instance; return how
        many of either."""
        late = [
            attempt
            for active in self._active.values()
            for attempt in active.run.attempts
            if attempt.deadline_ms <= now_ms and not attempt.timed_out
        ]
        for attempt in late:
            attempt.time_out()
        if self._closing or not self._names:
            return len(late)
        rows = self._store.claim_due(self._names, self._lock.owner, now_ms, CLAIM_BATCH)
        for row in rows:
            self._start(row)
        return len(late) + len(rows)

    def _recover(self) -> None:
        self._recovered_at = time.monotonic()
        dead = [owner for owner in self._store.owners() if self._lock.is_dead(owner)]
        if dead:
            count = self._store.release(dead, self._clock.now_ms())
            if count:
                logger.info("Workflows: resuming %d instance(s) left running by a stopped process", count)
                self._wakeup.wake()

    def _changed(self) -> None:
        self._progress += 1
        self._wakeup.wake()

    # --- one run ---------------------------------------------------------------------------

    def _start(self, row: InstanceRow) -> None:
        workflow = self._workflows[row.workflow]
        run = Run(
            self._store,
            self._clock,
            self._bus,
            self._lock.owner,
            row,
            step_limit=workflow.step_limit,
            on_change=self._changed,
        )
        task = asyncio.create_task(self._drive(workflow, run), name=f"workflow {row.workflow} {row.id}")
        self._active[row.seq] = _Active(run, task)
        task.add_done_callback(lambda done: self._ended(row.seq, done))

    def _ended(self, seq: int, task: asyncio.Task[None]) -> None:
        active = self._active.get(seq)
        if active is not None and active.task is task:
            del self._active[seq]
        self._changed()
        if not task.cancelled() and task.exception() is not None:
            logger.error("Workflows: a run failed inside workerlab", exc_info=task.exception())

    async def _drive(self, workflow: _Workflow, run: Run) -> None:
        """One run of an instance, and what it leaves in the store: complete, errored, or due again."""
        row = run.instance
        try:
            output = await self._invoke(workflow, run)
            blob = encode_value(output, f'the value returned by run() of workflow "{row.workflow}"')
        except Suspend:
            await self._settle(run)
            self._store.suspend(row.seq, self._lock.owner, self._clock.now_ms())
            return
        except asyncio.CancelledError:
            await self._settle(run)
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # terminated, restarted or stopping: whoever cancelled has set the status
            self._fail(row, asyncio.CancelledError("the workflow's run() was cancelled"))
            return
        except Exception as error:
            await self._settle(run)
            self._fail(row, error)
            return
        await self._settle(run)
        self._store.finish(row.seq, self._lock.owner, "complete", output=blob)

    async def _invoke(self, workflow: _Workflow, run: Run) -> Any:
        """``Cls(ctx, env).run(event, step)`` with the worker's env as the current one."""
        row = run.instance
        env = workflow.env_provider()
        ctx = ExecutionContext(workflow.background_work, waits_for_work=False, env=env)
        current_context.set(ctx)
        event = JsObject(
            payload=decode_value(row.params),
            timestamp=utc_from_ms(row.created_ms),
            instanceId=row.id,
            workflowName=row.workflow,
        )
        output = workflow.entrypoint(ctx, env).run(event, WorkflowStep(run, workflow.step_form))
        return await output if inspect.isawaitable(output) else output

    async def _settle(self, run: Run) -> None:
        """End the run's step operations and wait for its attempts still in flight to be recorded."""
        run.close()
        pending = [attempt.task for attempt in run.attempts if attempt.task is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _fail(self, row: InstanceRow, error: BaseException) -> None:
        if self._store.finish(row.seq, self._lock.owner, "errored", error=error_fields(error)):
            logger.warning(
                'Workflow "%s" instance "%s" errored:\n%s', row.workflow, row.id, format_user_traceback(error)
            )

    async def _stop_run(self, seq: int) -> None:
        active = self._active.get(seq)
        if active is None or active.task is asyncio.current_task():
            return
        active.task.cancel()
        await asyncio.gather(active.task, return_exceptions=True)
