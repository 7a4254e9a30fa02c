"""``workers.env`` and ``workers.patch_env``: the env of the event being handled.

On Cloudflare ``from workers import env`` is the env of ``cloudflare:workers``, which follows the
event being handled. Here :data:`env` reads :func:`workerlab.context.event_env`, the env of the
context the runtime makes for each event; used while no event is handled, it raises saying so.

``patch_env(...)`` replaces that env, within the block, by exactly the values given, as
Cloudflare's did: bindings and secrets not given are not visible inside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from workerlab.context import current_context, event_env, patched_env

logger = logging.getLogger("workerlab")

#: When Cloudflare's runtime dropped the helper ``patch_env`` relies on (workerd commit
#: "Remove patch_env", 2026-06-30); the SDK still exports the name.
PATCH_ENV_REMOVED = "2026-06-30"

_NO_EVENT = (
    "workers.env was used while no event is being handled: it is the env of the current fetch, "
    "queue, scheduled or RPC event. Use it inside a handler (or the handler's env / self.env)"
)


def _current() -> Any:
    value = event_env()
    if value is None:
        raise RuntimeError(_NO_EVENT)
    return value


class CurrentEnv:
    """``workers.env``: attribute access to the env of the event being handled.

    As on Cloudflare (an ``_EnvWrapper`` there) it has attribute access only.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_current(), name)

    def __getitem__(self, name: str) -> Any:
        raise TypeError(
            f"workers.env is not subscriptable on Cloudflare (env[{name!r}]): use workers.env.{name}"
        )

    def __dir__(self) -> list[str]:
        value = event_env()
        return sorted(value) if isinstance(value, Iterable) else []  # Env, PatchedEnv, a dict

    def __repr__(self) -> str:
        value = event_env()
        return "workers.env (no event is being handled)" if value is None else f"workers.env -> {value!r}"


#: The importable env (``from workers import env``).
env = CurrentEnv()


class PatchedEnv:
    """The env inside a ``patch_env`` block: exactly the values given, by attribute or item."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            given = ", ".join(sorted(self._values)) or "nothing"
            raise AttributeError(
                f"env has no {name!r} inside patch_env(): the block's env holds exactly what was "
                f"given ({given}), as on Cloudflare"
            ) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"PatchedEnv({', '.join(sorted(self._values))})"


_warned = False


@contextmanager
def patch_env(
    values: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None, /, **kwargs: Any
) -> Iterator[None]:
    """Within the block, ``workers.env`` is exactly ``values`` (a dict or pairs) plus ``kwargs``.

    The env a handler received as an argument is not changed, as on Cloudflare. The previous env
    comes back when the block ends, also on an exception.
    """
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "patch_env() is in Cloudflare's Python SDK, but the runtime helper it calls was removed from "
            "Cloudflare's runtime on %s: it may fail in production",
            PATCH_ENV_REMOVED,
        )
    merged = dict(values or ()) | kwargs
    token = patched_env.set((current_context.get(), PatchedEnv(merged)))
    try:
        yield
    finally:
        patched_env.reset(token)
