"""Cloudflare's spelling of the Durable Object API, kept strict so that code stays portable.

Python code on Cloudflare calls the JavaScript API, whose names are camelCase
(``ctx.storage.deleteAll()``, ``blockConcurrencyWhile``); a snake_case spelling fails there. So
it fails here too, with the spelling to use.
"""

from __future__ import annotations

import re
from typing import Any

_SNAKE = re.compile(r"_([a-z0-9])")


def camel_case(name: str) -> str:
    return _SNAKE.sub(lambda match: match.group(1).upper(), name)


class CloudflareNames:
    """Mixin: a missing snake_case attribute whose camelCase twin exists says so, and so does a
    name of Cloudflare's API that workerlab does not emulate (listed in ``_not_emulated``)."""

    __slots__ = ()
    _not_emulated: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        kind = type(self).__name__
        if name in self._not_emulated:
            raise AttributeError(
                f"{kind}.{name} belongs to Cloudflare's API but has no local emulation in workerlab; "
                "code that needs it runs on Cloudflare only (or guard it with hasattr)"
            )
        if not name.startswith("_") and "_" in name:
            camel = camel_case(name)
            if hasattr(type(self), camel):
                raise AttributeError(
                    f"{kind} has no attribute {name!r}: Cloudflare spells it {camel!r} "
                    "(code that uses that name runs unchanged on Cloudflare)"
                )
        raise AttributeError(f"{kind!r} object has no attribute {name!r}")
