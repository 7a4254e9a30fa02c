"""How many positional arguments a handler takes: the platform passes only as many as it declares."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def positional_arity(handler: Callable[..., Any], most: int, *, skip_first: bool = False) -> int:
    """How many leading positional arguments ``handler`` accepts, up to ``most`` (``most`` for
    ``*args`` or a signature that cannot be read). ``skip_first``: its first parameter is the
    instance (a method read from its class), which the caller passes itself; a bound method's is
    always skipped."""
    function = getattr(handler, "__func__", None)
    if function is not None:
        handler, skip_first = function, True
    count = _positional(handler)
    if count is None:
        return most
    return min(max(count - 1, 0) if skip_first else count, most)


@functools.lru_cache(maxsize=1024)
def _positional(function: Callable[..., Any]) -> int | None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
