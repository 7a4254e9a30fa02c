"""Cloudflare Workflows, run locally: durable multi-step instances replayed from a SQLite store."""

from __future__ import annotations

from .errors import NonRetryableError, WorkflowError

__all__ = ["NonRetryableError", "WorkflowError"]
