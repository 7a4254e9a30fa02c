"""What crosses between the engine and a workflow's code: values by copy, step errors by name.

On Cloudflare a step's result, the params and the events pass through JavaScript and come back as
copies: dicts with attribute access, arrays as lists. The engine stores them as structured
clones (never pickle) and hands user code a decoded copy, the same on the first run and on replay.
A step that fails for good reaches ``run`` as Cloudflare's Python SDK rebuilds it: ``TypeError``
and ``ValueError`` keep their type (their message starts with the type name, as the SDK takes it
from the traceback's last line), ``NonRetryableError`` keeps its type, any other error arrives
as an ``Exception`` subclass of the same name.
"""

from __future__ import annotations

from typing import Any

from ..bindings.results import JsObject
from ..clone import decode_clone, encode_clone
from ..rpc import RemoteError, error_message, rebuilt
from .errors import NonRetryableError, WorkflowError

#: Largest step result, event payload or instance output once encoded (Cloudflare Workflows
#: limits: 1 MiB).
MAX_VALUE_BYTES = 1024 * 1024

_KEEPS_TYPE = {"TypeError": TypeError, "ValueError": ValueError}
_NON_RETRYABLE = "NonRetryableError"


def encode_value(value: Any, what: str) -> bytes:
    """``value`` as stored; a WorkflowError names ``what`` when it is too large, a TypeError when
    it is not a structured clone."""
    data = encode_clone(value, what)
    if len(data) > MAX_VALUE_BYTES:
        raise WorkflowError(
            f"{what} is too large: {len(data):,} bytes encoded, Cloudflare allows {MAX_VALUE_BYTES:,}"
        )
    return data


def decode_value(data: bytes) -> Any:
    """A stored value as user code sees it: dicts as :class:`JsObject`, tuples as lists."""
    return js_values(decode_clone(data))


def js_values(value: Any) -> Any:
    if isinstance(value, dict):
        return JsObject((key, js_values(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return [js_values(item) for item in value]
    return value


def error_fields(error: BaseException) -> tuple[str, str]:
    """``(name, message)`` of an error, as ``status()`` reports it."""
    if isinstance(error, NonRetryableError):
        return error.name, error.message
    if isinstance(error, RemoteError):
        return error.remote_type, str(error)
    return type(error).__name__, error_message(error)


def stored_error(error: BaseException) -> tuple[str, str]:
    """``(name, message)`` to store for a step that failed for good; :func:`step_error` reads it.
    A NonRetryableError keeps its class in the name, with its own name after a slash."""
    name, message = error_fields(error)
    if isinstance(error, NonRetryableError):
        name = _NON_RETRYABLE if name == _NON_RETRYABLE else f"{_NON_RETRYABLE}/{name}"
    return name, message


def step_error(name: str, message: str) -> Exception:
    """The exception ``run`` sees for a step that failed for good with the stored error ``name``."""
    kind, _, own_name = name.partition("/")
    if kind == _NON_RETRYABLE:
        return NonRetryableError(message, own_name or None)
    keeps = _KEEPS_TYPE.get(name)
    if keeps is not None:
        return keeps(message if message.startswith(f"{name}: ") else f"{name}: {message}")
    return rebuilt(name, message)
