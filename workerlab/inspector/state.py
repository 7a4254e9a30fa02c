"""What the inspector keeps for the life of the process, and how a route finds it and the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..mounts import new_token
from .cron_runs import CronRuns
from .responses import ApiError, not_found
from .timeline import Timeline

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..runtime import Runtime
    from ..session import Session

T = TypeVar("T")

#: The scope key under which the inspector's app puts its state for the routes.
STATE_KEY = "workerlab.inspector"
#: Seconds between an open event stream's looks at the stores for changes made elsewhere.
CHANGE_POLL_S = 0.5
#: The scope key under which `workerlab dev` puts the session it serves (see workerlab.mounts).
SESSION_KEY = "workerlab.session"


class InspectorState:
    """The per-process token, the timeline and the cron runs; they outlive reloads of the workers."""

    def __init__(
        self,
        *,
        token: str | None = None,
        timeline: Timeline | None = None,
        change_poll_s: float = CHANGE_POLL_S,
    ) -> None:
        self.token = token or new_token()
        self.timeline = timeline or Timeline()
        self.cron_runs = CronRuns()
        self.session: Session | None = None
        #: How often an open event stream looks for changes made elsewhere (and for the end).
        self.change_poll_s = change_poll_s
        self.stopping: Callable[[], bool] = lambda: False

    def change_marker(self) -> object:
        """A value that changes whenever the queue store does (so that open pages refresh)."""
        from .queues import queue_marker

        broker = None if self.session is None else self.session.broker
        return None if broker is None else queue_marker(broker.store)

    def attach(self, session: Session) -> None:
        """Record the events of ``session`` from now on (a reloaded session replaces the old one)."""
        if session is self.session:
            return
        self.session = session
        self.timeline.attach(session.bus, session.clock)
        self.cron_runs.attach(session.bus)
        names = ", ".join(session.workers)
        self.timeline.add({"kind": "session", "worker": "", "title": f"Loaded {names}", "level": "info"})

    def detach(self) -> None:
        self.timeline.detach()
        self.cron_runs.detach()
        self.session = None


def state_of(request: Request) -> InspectorState:
    state: InspectorState = request.scope[STATE_KEY]
    return state


def session_of(request: Request) -> Session:
    session: Session | None = request.scope.get(SESSION_KEY)
    if session is None:
        raise ApiError(503, "not-loaded", "No worker is loaded (the last reload failed: see the terminal)")
    return session


def runtime_of(request: Request, worker: str) -> Runtime:
    runtime = session_of(request).workers.get(worker)
    if runtime is None:
        known = ", ".join(session_of(request).workers) or "none"
        raise not_found(f"No worker named {worker!r} is loaded (loaded: {known})")
    return runtime


def binding_of(request: Request, kind: type[T], label: str) -> T:
    """The ``{worker}``'s ``{binding}`` (path parameters) when it is a ``kind``, else a 404."""
    worker = request.path_params["worker"]
    name = request.path_params["binding"]
    value: Any = runtime_of(request, worker).env.get(name)
    if not isinstance(value, kind):
        raise not_found(f"The worker {worker} has no {label} binding named {name!r}")
    return value


def bindings_of_kind(session: Session, kind: type[T]) -> list[tuple[str, str, T]]:
    """``(worker, binding, value)`` of every binding of ``kind`` in the session, in config order."""
    found: list[tuple[str, str, T]] = []
    for runtime in session.workers.values():
        for spec, _, _ in runtime.bindings:
            value = runtime.env.get(spec.binding)
            if isinstance(value, kind):
                found.append((runtime.name, spec.binding, value))
    return found


def record_action(request: Request, title: str, topic: str, **details: Any) -> None:
    """Put an action taken through the inspector on the timeline, and tell the open pages of ``topic``."""
    timeline = state_of(request).timeline
    timeline.add({"kind": "action", "worker": "", "title": title, "level": "info", **details})
    timeline.changed(topic)
