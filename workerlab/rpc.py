"""RPC as Cloudflare does it between workers and into Durable Objects.

Arguments and results cross by value (a structured clone, plus ``Request`` and ``Response``),
only public methods that are not handlers can be called, and an exception raised by the
target reaches the caller with its type name and message. Service bindings
(:mod:`workerlab.bindings.service`) and Durable Object stubs build on this module.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from .bindings.results import JsObject
from .clone import MAX_CLONE_DEPTH

#: Methods no RPC call can reach: the event handlers (Cloudflare calls them, not stubs) and the
#: names JavaScript reserves on every RPC target.
RESERVED_METHODS = frozenset(
    {
        "fetch",
        "queue",
        "scheduled",
        "alarm",
        "email",
        "tail",
        "trace",
        "test",
        "connect",
        "constructor",
        "dup",
    }
)
#: Deepest nesting of an RPC argument or result (as the structured clone encoding allows).
MAX_RPC_DEPTH = MAX_CLONE_DEPTH

#: What crosses an RPC call, for error messages.
RPC_TYPES = "None, bool, int, float, str, bytes, list, tuple, dict, datetime, Request or Response"

#: Types that cross as they are (a subclass crosses as its plain base: the other side lacks the class).
_PLAIN: tuple[type, ...] = (bool, int, float, str, datetime)

Invoke = Callable[[str, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]


class RemoteError(Exception):
    """An exception raised by the target of an RPC call whose class is not a built-in one.

    The caller sees a subclass named like the target's exception class (``type(e).__name__``),
    with the same message; ``remote_type`` holds that name too.
    """

    remote_type: str = "Error"


_remote_classes: dict[str, type[RemoteError]] = {}


def carried(error: BaseException) -> Exception:
    """The exception the caller of an RPC sees for ``error`` raised in the target.

    Built-in exception types (ValueError, KeyError, TypeError, ...) arrive as themselves; any
    other arrives as a :class:`RemoteError` subclass of the same name. The message is kept.
    """
    return rebuilt(type(error).__name__, error_message(error))


def error_message(error: BaseException) -> str:
    """The message an RPC caller sees for ``error`` (its one argument, else its text)."""
    return str(error.args[0]) if len(error.args) == 1 else str(error)


def rebuilt(type_name: str, message: str) -> Exception:
    """An exception of the built-in type ``type_name``, else a :class:`RemoteError` of that name."""
    kind = getattr(builtins, type_name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # a constructor of its own (UnicodeDecodeError, ...): fall through
            pass
    remote = _remote_classes.get(type_name)
    if remote is None:
        remote = type(type_name, (RemoteError,), {"remote_type": type_name, "__module__": "workers"})
        _remote_classes[type_name] = remote
    return remote(message)


def clone(value: Any, where: str) -> Any:
    """A by-value copy of ``value`` for the other side of an RPC call.

    dicts arrive as :class:`JsObject` (item and attribute access), tuples as lists, bytes-like
    values as bytes; a ``Request`` or ``Response`` is copied with its body. Anything else is a
    ``TypeError`` naming the type and ``where`` it was found.
    """
    return _clone(value, where, set(), 0)


def _clone(value: Any, where: str, path: set[int], depth: int) -> Any:
    kind = type(value)
    if value is None or kind in _PLAIN:
        return value
    if isinstance(value, bool | int | float | str):  # an enum member or another subclass: its plain value
        return next(base for base in _PLAIN if isinstance(value, base))(value)
    if isinstance(value, datetime):
        return datetime.fromisoformat(value.isoformat())
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_RPC_DEPTH:
            raise TypeError(f"{where} is nested deeper than {MAX_RPC_DEPTH} levels")
        key = id(value)
        if key in path:
            raise TypeError(f"{where} holds a {type(value).__name__} that contains itself")
        path.add(key)
        try:
            if isinstance(value, dict):
                return JsObject(
                    (_clone(k, where, path, depth + 1), _clone(v, where, path, depth + 1))
                    for k, v in value.items()
                )
            return [_clone(item, where, path, depth + 1) for item in value]
        finally:
            path.discard(key)
    from .compat.request import Request
    from .compat.response import Response

    if isinstance(value, Request | Response):
        return value.clone()
    raise TypeError(
        f"{where} cannot cross an RPC call: it is a {type(value).__name__}, and RPC passes values "
        f"({RPC_TYPES}); convert it first"
    )


def fetch_request(
    resource: Any,
    method: str | None = None,
    headers: Any = None,
    body: Any = None,
    redirect: str | None = None,
    cf: dict[str, Any] | None = None,
) -> Any:
    """The request a stub's ``fetch()`` sends: ``resource`` copied when it is a Request given alone,
    else a new Request made as ``workers.fetch`` makes one."""
    from .compat.request import Request

    if isinstance(resource, Request) and (method, headers, body, redirect, cf) == (None,) * 5:
        return resource.clone()
    return Request(resource, method=method, headers=headers, body=body, cf=cf, redirect=redirect)


def check_method(target: object, name: str, label: str) -> Callable[..., Any]:
    """The bound method ``name`` of ``target`` that an RPC call may reach, or a TypeError."""
    if name.startswith("_") or name in RESERVED_METHODS:
        raise TypeError(
            f'The RPC receiver {label} does not implement the method "{name}" '
            "(methods starting with _ and the handler names are not callable over RPC)"
        )
    method = getattr(target, name, None)
    if method is None or not callable(method):
        raise TypeError(f'The RPC receiver {label} does not implement the method "{name}"')
    return method  # type: ignore[no-any-return]


async def call_method(
    target: object, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], label: str
) -> Any:
    """Call the public method ``name`` of ``target`` with copies of the arguments; return a copy of
    its result. The target's own exception propagates as raised (see :func:`carried`)."""
    method = check_method(target, name, label)
    args = tuple(clone(arg, f"argument {index + 1} of {name}()") for index, arg in enumerate(args))
    kwargs = {key: clone(arg, f"argument {key}= of {name}()") for key, arg in kwargs.items()}
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return clone(result, f"the result of {name}()")


class RpcStub:
    """The caller's side of an RPC target: every public attribute is a method to call remotely."""

    def __init__(self, invoke: Invoke, label: str) -> None:
        self._invoke = invoke
        self._label = label

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("__"):
            raise AttributeError(name)
        invoke = self._invoke

        def method(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            return invoke(name, args, kwargs)

        method.__name__ = name
        method.__qualname__ = f"{self._label}.{name}"
        return method

    def __repr__(self) -> str:
        return f"<RPC stub of {self._label}>"
