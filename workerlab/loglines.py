"""The log lines: one subscriber of the event bus turns each event into the line SPEC promises.

``GET /path 200 OK (3ms)``, ``QUEUE <queue> <acked>/<total> (<ms>ms)``, the dead-letter and drop
warnings, ``SCHEDULED "<cron>" <outcome> (<ms>ms)``, ``RPC <worker>.<method> <outcome> (<ms>ms)``,
``ALARM ...``, ``WORKFLOW ...`` and the traceback of failed waitUntil work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from .events import (
    AlarmRun,
    BatchDelivered,
    CronRun,
    EventBus,
    MessageDeadLettered,
    MessageDropped,
    RequestServed,
    RpcCall,
    WaitUntilFailed,
    WorkflowStep,
)
from .tracebacks import format_user_traceback

logger = logging.getLogger("workerlab")

#: Longest path and query a request line shows whole (a longer one is cut, saying how long it was).
MAX_LOGGED_TARGET = 200

#: "200 OK" and the like, for the per-request line.
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class LogLines:
    """Writes the log lines of the events it is attached to.

    ``request_log`` writes an already formatted INFO line (the dev server passes one that skips
    building a LogRecord per request); by default the lines go through the ``workerlab`` logger.
    """

    def __init__(self, request_log: Callable[[str], None] | None = None) -> None:
        self._request_log = request_log

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(self.request, RequestServed)
        bus.subscribe(self.batch, BatchDelivered)
        bus.subscribe(self.dead_lettered, MessageDeadLettered)
        bus.subscribe(self.dropped, MessageDropped)
        bus.subscribe(self.cron, CronRun)
        bus.subscribe(self.rpc, RpcCall)
        bus.subscribe(self.alarm, AlarmRun)
        bus.subscribe(self.workflow_step, WorkflowStep)
        bus.subscribe(self.wait_until_failed, WaitUntilFailed)

    def request(self, event: RequestServed) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        status = _STATUS_LINES.get(event.status) or str(event.status)
        target = event.target
        if len(target) > MAX_LOGGED_TARGET:
            target = f"{target[:MAX_LOGGED_TARGET]}... ({len(target)} characters)"
        line = f"{event.method} {target} {status} ({round(event.duration_ms)}ms)"
        if self._request_log is not None:
            self._request_log(line)
        else:
            logger.info("%s", line)

    def batch(self, event: BatchDelivered) -> None:
        logger.info(
            "QUEUE %s %d/%d (%dms)",
            event.queue,
            len(event.acked),
            len(event.messages),
            round(event.duration_ms),
        )

    def dead_lettered(self, event: MessageDeadLettered) -> None:
        logger.warning(
            'Moving message "%s" on queue "%s" to dead letter queue "%s" after %d failed attempts',
            event.message.id,
            event.queue,
            event.dead_letter_queue,
            event.attempts,
        )

    def dropped(self, event: MessageDropped) -> None:
        logger.warning(
            'Dropped message "%s" on queue "%s" after %d failed attempts',
            event.message.id,
            event.queue,
            event.attempts,
        )

    def cron(self, event: CronRun) -> None:
        logger.info('SCHEDULED "%s" %s (%dms)', event.cron, event.outcome, round(event.duration_ms))

    def rpc(self, event: RpcCall) -> None:
        logger.info(
            "RPC %s.%s %s (%dms)", event.worker, event.method, event.outcome, round(event.duration_ms)
        )

    def alarm(self, event: AlarmRun) -> None:
        logger.info(
            "ALARM %s %s %s (%dms)",
            event.class_name,
            event.object_id[:8],
            event.outcome,
            round(event.duration_ms),
        )

    def workflow_step(self, event: WorkflowStep) -> None:
        logger.info(
            "WORKFLOW %s %s %s %s (%dms)",
            event.workflow,
            event.instance_id,
            event.step,
            event.outcome,
            round(event.duration_ms),
        )

    def wait_until_failed(self, event: WaitUntilFailed) -> None:
        logger.error("waitUntil work failed:\n%s", format_user_traceback(event.error))


def logging_bus() -> EventBus:
    """A bus whose events are logged (for engines used on their own, as unit tests do)."""
    bus = EventBus()
    LogLines().attach(bus)
    return bus
