"""The errors of Workflows: the one user code raises, and the ones the engine raises at user code."""

from __future__ import annotations

from ..errors import UserError


class NonRetryableError(Exception):
    """Raised in a step to fail it at once, without the retries its config allows.

    The instance then fails too (status ``errored``), unless ``run`` catches the error. User
    code imports it as ``from workers.workflows import NonRetryableError``; ``name`` is what the
    instance's ``status()`` reports as ``error.name`` (the class name when not given).
    """

    def __init__(self, message: str = "", name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name or type(self).__name__


class WorkflowError(UserError):
    """A Workflows call broke a rule: a bad id, a duplicate, an unknown option, a bad duration."""

    code = "workflow"


class WorkflowTimeoutError(Exception):
    """A step attempt ran past its timeout, or a wait_for_event got no event in time (the name
    Cloudflare gives these errors)."""
