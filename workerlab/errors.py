"""One error tree for workerlab.

Every error carries a stable ``code``. ``user_fault`` tells whether the user's
configuration, code or input is at fault (print one clear message, no traceback
through workerlab) or workerlab itself is (a bug: show everything).
"""

from __future__ import annotations

#: Exit statuses of the command line.
EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_STARTUP_FAILURE = 3


class WorkerlabError(Exception):
    """Root of every error workerlab raises on purpose."""

    code: str = "internal"
    user_fault: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UserError(WorkerlabError):
    """The user's configuration, code or input is at fault."""

    code = "user"
    user_fault = True


class ConfigError(UserError):
    """wrangler.toml / wrangler.json(c), .dev.vars or a command-line value is invalid."""

    code = "config"


class WorkerLoadError(UserError):
    """The worker's main module is missing or raised while importing."""

    code = "load"


class HandlerNotFoundError(UserError):
    """An event arrived for which the worker defines no handler."""

    code = "no-handler"


class QueueError(UserError):
    """A producer or consumer call broke a Cloudflare Queues rule or limit."""

    code = "queue"


class StorageError(UserError):
    """A KV, D1 or R2 call broke a limit or failed (D1: carries SQLite's message)."""

    code = "storage"


class InternalError(WorkerlabError):
    """A fault in workerlab itself."""

    code = "internal"
