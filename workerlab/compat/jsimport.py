"""``workers.import_from_javascript(name)``: the JavaScript modules a Python Worker can import.

Locally there is no JavaScript, so only the modules with a local meaning import:
``cloudflare:workers`` (``env``, ``waitUntil`` and the entrypoint classes) and
``cloudflare:sockets``, whose ``connect()`` raises when called (nothing emulates raw TCP sockets).
Any other name raises ``ImportError`` as Cloudflare's SDK does, saying why.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, NoReturn

from workerlab.compat.entrypoint import DurableObject, WorkerEntrypoint, WorkflowEntrypoint, wait_until
from workerlab.compat.env import env

#: The JavaScript modules ``import_from_javascript`` knows.
LOCAL_JS_MODULES = ("cloudflare:workers", "cloudflare:sockets")


def _connect(*args: Any, **kwargs: Any) -> NoReturn:
    from workerlab.bindings.not_emulated import NotEmulatedError

    raise NotEmulatedError(
        "cloudflare:sockets connect() has no local equivalent in workerlab (raw TCP sockets are not "
        "emulated); put the socket code behind a function your tests can replace"
    )


@cache
def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    if name == "cloudflare:workers":
        fields: dict[str, Any] = {
            "env": env,
            "waitUntil": wait_until,
            "WorkerEntrypoint": WorkerEntrypoint,
            "DurableObject": DurableObject,
            "WorkflowEntrypoint": WorkflowEntrypoint,
        }
    else:
        fields = {"connect": _connect}
    module.__dict__.update(fields)
    return module


def import_from_javascript(module_name: str) -> Any:
    """The JavaScript module ``module_name`` (``"cloudflare:workers"``, ``"cloudflare:sockets"``).

    Any other module raises ``ImportError("Failed to import '<name>': ...")``.
    """
    if module_name in LOCAL_JS_MODULES:
        return _module(module_name)
    raise ImportError(
        f"Failed to import {module_name!r}: workerlab runs Python Workers without a JavaScript "
        f"runtime, so only {' and '.join(map(repr, LOCAL_JS_MODULES))} can be imported"
    )
