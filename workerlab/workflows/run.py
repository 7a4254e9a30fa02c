"""One run of an instance: ``run(event, step)`` called from the top, replayed against stored steps.

Every step call is found by its kind, name and occurrence (the second ``step.do("fetch")`` of a
run is another step than the first). A step that succeeded before returns its stored result
without running; a step that failed for good raises its stored error again. New work happens only
at the first step with no stored outcome. When the instance must wait — a sleep, a retry delay,
an event, a pause — the run raises :class:`Suspend` and ends; the store knows when the instance
is due again, and the engine then starts a new run that replays up to the same point. So a
waiting instance holds no task, only rows.

An attempt of a ``step.do`` is counted in the store before its code runs, so an attempt cut
short by a crash still counts, and the step runs again in the next run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from ..bindings.results import JsObject
from ..clock import Clock, to_epoch_ms, utc_from_ms
from ..clone import decode_clone
from ..events import EventBus, WorkflowStep
from .config import StepConfig, step_config
from .durations import UNIT_MS, duration_ms
from .errors import NonRetryableError, WorkflowError, WorkflowTimeoutError
from .store import FINISHED, EventRow, InstanceRow, StepRef, WorkflowStore
from .values import decode_value, encode_value, step_error, stored_error

#: Longest step name (Cloudflare Workflows: 256 characters, no control characters).
MAX_STEP_NAME_LENGTH = 256
#: Longest sleep (Cloudflare Workflows limits: 365 days).
MAX_SLEEP_MS = 365 * UNIT_MS["day"]
#: Default ``step.wait_for_event`` timeout (Cloudflare Workflows: "24 hours").
DEFAULT_EVENT_TIMEOUT = "24 hours"

#: What a step's code is called with: the step context (``ctx.attempt``, ``ctx.step``, ``ctx.config``).
StepCall = Callable[[JsObject], Any]


class Suspend(BaseException):
    """Ends a run whose instance must wait; the engine runs it again when the wait is over.

    A BaseException, so that ``except Exception`` in a workflow does not catch it."""


class Attempt:
    """A ``step.do`` attempt in flight, with the clock time past which it fails."""

    __slots__ = ("deadline_ms", "task", "timed_out")

    def __init__(self, deadline_ms: int) -> None:
        self.deadline_ms = deadline_ms
        self.timed_out = False
        self.task: asyncio.Future[_Outcome] | None = None

    def time_out(self) -> None:
        """Fail the attempt now: its code is cancelled and the failure is a WorkflowTimeoutError."""
        if self.task is not None and not self.task.done():
            self.timed_out = True
            self.task.cancel()


class _Outcome(NamedTuple):
    state: str  # ok, retry or error
    result: bytes | None = None
    delay_ms: int = 0
    error: BaseException | None = None


class Run:
    """The step operations of one run of ``instance``, as :mod:`.step` calls them."""

    def __init__(
        self,
        store: WorkflowStore,
        clock: Clock,
        bus: EventBus,
        owner: str,
        instance: InstanceRow,
        *,
        step_limit: int,
        on_change: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._bus = bus
        self._owner = owner
        self.instance = instance
        self._step_limit = step_limit
        self._on_change = on_change
        self._stored = store.steps(instance.seq)
        self._places = len(self._stored)  # the place of the next step not stored yet
        self._counts: dict[tuple[str, str], int] = {}
        self._do_calls = 0
        self.attempts: set[Attempt] = set()
        self.closed = False

    def close(self) -> None:
        """No step operation starts from now on (the run has ended)."""
        self.closed = True

    # --- step.do ---------------------------------------------------------------------------

    async def do(self, name: str, config: Any, call: StepCall) -> Any:
        """Run step ``name`` (or return its stored result) with retries as ``config`` says."""
        self._check_open()
        ref, count = self._ref("do", name)
        self._do_calls += 1
        if self._do_calls > self._step_limit:
            raise WorkflowError(
                f"The limit of {self._step_limit} steps has been reached. This limit can be changed "
                "in your worker configuration."
            )
        resolved = step_config(config, name)
        stored = self._stored.get(ref.key)
        if stored is not None:
            if stored.state == "ok":
                return decode_value(stored.result or b"")
            if stored.state == "error":
                raise step_error(stored.error_name or "Error", stored.error_message or "")
            if stored.state == "retry" and (stored.due_ms or 0) > self._clock.now_ms():
                raise Suspend
        while True:
            self._check_open()
            outcome = await self._start_attempt(ref, count, resolved, call)
            if outcome.state == "ok":
                self._boundary()
                return decode_value(outcome.result or b"")
            if outcome.state == "error":
                assert outcome.error is not None
                failure = step_error(*stored_error(outcome.error))
                raise failure from outcome.error
            if outcome.delay_ms > 0:
                raise Suspend

    async def _start_attempt(self, ref: StepRef, count: int, config: StepConfig, call: StepCall) -> _Outcome:
        number = self._store.start_attempt(self.instance.seq, ref)
        attempt = Attempt(self._clock.now_ms() + config.timeout_ms)
        context = JsObject(
            attempt=number,
            step=JsObject(name=ref.name, count=count),
            config=JsObject(
                retries=JsObject(
                    limit=config.retry_limit, delay=config.retry_delay_ms, backoff=config.backoff
                ),
                timeout=config.timeout_ms,
            ),
        )
        task = asyncio.ensure_future(self._attempt(attempt, ref, number, config, call, context))
        attempt.task = task
        self.attempts.add(attempt)
        task.add_done_callback(lambda _: self.attempts.discard(attempt))
        self._on_change()
        return await task

    async def _attempt(
        self,
        attempt: Attempt,
        ref: StepRef,
        number: int,
        config: StepConfig,
        call: StepCall,
        context: JsObject,
    ) -> _Outcome:
        name = ref.name
        started = time.perf_counter()
        fatal = False
        try:
            value = call(context)
            if inspect.isawaitable(value):
                value = await value
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not attempt.timed_out or task is None:
                raise
            task.uncancel()
            error: BaseException = WorkflowTimeoutError(f"Execution timed out after {config.timeout_ms}ms")
        except Exception as raised:
            error = raised
        else:
            try:
                result = encode_value(value, f'the value returned by step "{name}"')
            except (TypeError, WorkflowError) as unstorable:
                error, fatal = unstorable, True
            else:
                self._store.put_step(self.instance.seq, ref, "do", "ok", result=result)
                self._emit(name, number, "ok", None, started)
                return _Outcome("ok", result)
        fatal = fatal or isinstance(error, NonRetryableError) or type(error).__name__ == "NonRetryableError"
        if not fatal and config.may_retry_after(number):
            delay_ms = config.retry_delay_after(number)
            due_ms = self._clock.now_ms() + delay_ms
            self._store.put_step(self.instance.seq, ref, "do", "retry", due_ms=due_ms)
            self._emit(name, number, "retry", error, started)
            return _Outcome("retry", delay_ms=delay_ms, error=error)
        self._store.put_step(self.instance.seq, ref, "do", "error", error=stored_error(error))
        self._emit(name, number, "error", error, started)
        return _Outcome("error", error=error)

    def _emit(
        self, name: str, number: int, outcome: str, error: BaseException | None, started: float
    ) -> None:
        self._on_change()
        if self._bus.wants(WorkflowStep):
            self._bus.emit(
                WorkflowStep(
                    workflow=self.instance.workflow,
                    instance_id=self.instance.id,
                    step=name,
                    attempt=number,
                    outcome=outcome,
                    error=error,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )

    # --- sleeps ----------------------------------------------------------------------------

    async def sleep(self, name: str, duration: Any) -> None:
        """Wait ``duration`` (a duration string or milliseconds) from the first time this is reached."""
        self._check_open()
        wait_ms = duration_ms(duration, f'step.sleep("{name}") duration')
        if wait_ms > MAX_SLEEP_MS:
            raise WorkflowError(
                f'step.sleep("{name}"): {duration!r} is longer than the longest sleep Cloudflare allows '
                f"(365 days)"
            )
        self._sleep(name, lambda now_ms: now_ms + wait_ms)

    async def sleep_until(self, name: str, when: datetime | int | float) -> None:
        """Wait until ``when`` (a datetime, naive meaning UTC, or epoch milliseconds)."""
        self._check_open()
        if isinstance(when, bool) or not isinstance(when, datetime | int | float):
            raise WorkflowError(
                f'step.sleep_until("{name}"): expected a datetime or epoch milliseconds, '
                f"found {type(when).__name__} {when!r}"
            )
        due_ms = to_epoch_ms(when)
        self._sleep(name, lambda _now_ms: due_ms)

    def _sleep(self, name: str, due: Callable[[int], int]) -> None:
        ref, _ = self._ref("sleep", name)
        stored = self._stored.get(ref.key)
        if stored is not None and stored.state == "ok":
            return
        now_ms = self._clock.now_ms()
        due_ms = due(now_ms) if stored is None else stored.due_ms or 0
        if due_ms > now_ms:
            if stored is None:
                self._store.put_step(self.instance.seq, ref, "sleep", "waiting", due_ms=due_ms)
            raise Suspend
        self._store.put_step(self.instance.seq, ref, "sleep", "ok", due_ms=due_ms)
        self._boundary()

    # --- events ----------------------------------------------------------------------------

    async def wait_for_event(self, name: str, event_type: Any, timeout: Any = DEFAULT_EVENT_TIMEOUT) -> Any:
        """The next event of ``event_type`` sent to the instance (one sent earlier included), or a
        WorkflowTimeoutError when none comes within ``timeout``."""
        self._check_open()
        if not isinstance(event_type, str) or not event_type:
            raise WorkflowError(
                f'step.wait_for_event("{name}"): expected the event type as a non-empty str, '
                f"found {type(event_type).__name__} {event_type!r}"
            )
        timeout_ms = duration_ms(timeout, f'step.wait_for_event("{name}") timeout')
        ref, _ = self._ref("event", name)
        stored = self._stored.get(ref.key)
        if stored is not None and stored.state == "ok":
            return decode_value(stored.result or b"")
        if stored is not None and stored.state == "error":
            raise step_error(stored.error_name or "Error", stored.error_message or "")
        received = self._store.receive_event(self.instance.seq, ref, event_type, _event_result)
        if received is not None:
            self._boundary()
            return decode_value(received)
        now_ms = self._clock.now_ms()
        due_ms = now_ms + timeout_ms if stored is None else stored.due_ms or 0
        if due_ms > now_ms:
            if stored is None:
                self._store.put_step(
                    self.instance.seq, ref, "event", "waiting", due_ms=due_ms, event_type=event_type
                )
            raise Suspend
        timed_out = ("WorkflowTimeoutError", f"Execution timed out after {timeout_ms}ms")
        self._store.put_step(self.instance.seq, ref, "event", "error", event_type=event_type, error=timed_out)
        raise step_error(*timed_out)

    # --- shared ----------------------------------------------------------------------------

    def _ref(self, kind: str, name: Any) -> tuple[StepRef, int]:
        """Where this call of step ``name`` is stored, and which occurrence of the name it is."""
        if not isinstance(name, str) or len(name) > MAX_STEP_NAME_LENGTH or any(ord(c) < 0x20 for c in name):
            raise WorkflowError(
                f"Step name {name!r} exceeds max length ({MAX_STEP_NAME_LENGTH} chars) or invalid "
                "characters found (a step name is a str without control characters)"
            )
        count = self._counts.get((kind, name), 0) + 1
        self._counts[(kind, name)] = count
        key = step_key(kind, name, count)
        place = -1  # stored already: its place stays
        if key not in self._stored:
            place, self._places = self._places, self._places + 1
        return StepRef(key, name, place), count

    def _check_open(self) -> None:
        if self.closed:
            raise Suspend

    def _boundary(self) -> None:
        """After a step: stop here if the run has ended or the instance was paused or ended."""
        self._on_change()
        if self.closed:
            raise Suspend
        status, owner = self._store.holder(self.instance.seq)
        if owner != self._owner or status == "waitingForPause" or status in FINISHED:
            raise Suspend


def step_key(kind: str, name: str, count: int) -> str:
    """Where the ``count``-th call of step ``name`` of ``kind`` (do, sleep, event) is stored."""
    return f"{kind}:{count}:{name}"


def _event_result(event: EventRow) -> bytes:
    return encode_value(
        {
            "payload": decode_clone(event.payload),
            "timestamp": utc_from_ms(event.timestamp_ms),
            "type": event.type,
        },
        "an event",
    )
