"""``workers.workflows``: what Workflow code imports from the SDK (``NonRetryableError``)."""

from __future__ import annotations

from workerlab.workflows.errors import NonRetryableError

__all__ = ["NonRetryableError"]
