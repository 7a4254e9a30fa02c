"""The ``workers`` module user code imports: Cloudflare's Python Workers SDK names.

workerlab installs this module as ``sys.modules["workers"]`` while it loads a worker.
"""

from __future__ import annotations

from workerlab.compat.entrypoint import (
    DurableObject,
    WorkerEntrypoint,
    WorkflowEntrypoint,
    handler,
    wait_until,
    waitUntil,
)
from workerlab.compat.fetch import fetch
from workerlab.compat.formdata import Blob, File, FormData
from workerlab.compat.headers import Headers
from workerlab.compat.request import Request
from workerlab.compat.response import Response

__all__ = [
    "Blob",
    "DurableObject",
    "File",
    "FormData",
    "Headers",
    "Request",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "fetch",
    "handler",
    "waitUntil",
    "wait_until",
]
