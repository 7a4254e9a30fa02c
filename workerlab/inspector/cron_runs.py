"""The last runs of each cron, kept apart from the timeline so that busy traffic never pushes them out."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..events import CronRun, EventBus
from .entries import Document, error_document

#: Runs kept per (worker, cron).
MAX_RUNS_PER_CRON = 20


class CronRuns:
    """Subscribes to :class:`~workerlab.events.CronRun`; keeps the last runs of each cron, newest last."""

    def __init__(self, max_runs: int = MAX_RUNS_PER_CRON) -> None:
        self._runs: dict[tuple[str, str], deque[Document]] = {}
        self._max_runs = max_runs
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, bus: EventBus) -> None:
        self.detach()
        self._unsubscribe = bus.subscribe(self._record, CronRun)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _record(self, event: CronRun) -> None:
        key = (event.worker, event.cron)
        runs = self._runs.get(key)
        if runs is None:
            runs = self._runs[key] = deque(maxlen=self._max_runs)
        runs.append(
            {
                "scheduled_ms": event.scheduled_time_ms,
                "outcome": event.outcome,
                "duration_ms": event.duration_ms,
                "error": error_document(event.error),
            }
        )

    def of(self, worker: str, cron: str) -> list[Document]:
        """The last runs of ``cron`` of ``worker``, newest first."""
        return list(reversed(self._runs.get((worker, cron), ())))
