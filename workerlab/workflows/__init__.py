"""Cloudflare Workflows, run locally: durable multi-step instances replayed from a SQLite store.

:class:`WorkflowEngine` is the whole public surface for the wiring: register workflows, hand
out their bindings, drive it as a time source, read instance records. User code sees only the
binding (:class:`WorkflowBinding`), its instances, the ``step`` object and
:class:`NonRetryableError`.
"""

from __future__ import annotations

from .binding import WorkflowBinding, WorkflowInstance
from .config import StepConfig
from .engine import DEFAULT_STEP_LIMIT, WorkflowEngine
from .errors import NonRetryableError, WorkflowError, WorkflowTimeoutError
from .records import InstanceRecord, StepRecord
from .store import STORE_FILE_NAME

__all__ = [
    "DEFAULT_STEP_LIMIT",
    "STORE_FILE_NAME",
    "InstanceRecord",
    "NonRetryableError",
    "StepConfig",
    "StepRecord",
    "WorkflowBinding",
    "WorkflowEngine",
    "WorkflowError",
    "WorkflowInstance",
    "WorkflowTimeoutError",
]
