"""What would behave differently on Cloudflare: the findings of `workerlab check`, and the warnings
`workerlab dev` and the harness print when a worker loads.

workerlab runs every handler style it finds, but Cloudflare's Python runtime calls handlers by
rules that depend on the compatibility date, calls ``queue`` and ``scheduled`` with all three
arguments, refuses some work at import time, and has services no local tool can run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .signatures import positional_arity

if TYPE_CHECKING:
    from .config import WorkerConfig
    from .loader import WorkerModule

logger = logging.getLogger("workerlab")

#: From this compatibility date (or with the flag) Cloudflare calls only the Default class's
#: methods: module-level ``fetch`` / ``on_fetch`` functions are no longer handlers.
NO_GLOBAL_HANDLERS_DATE = "2025-08-14"
NO_GLOBAL_HANDLERS_FLAG = "python_no_global_handlers"
#: The flag that keeps module-level handlers after that date.
GLOBAL_HANDLERS_FLAG = "python_global_handlers"
#: Events Cloudflare calls with exactly (event, env, ctx): a handler taking fewer raises there.
_STRICT_EVENTS = ("queue", "scheduled")


def global_handlers_ignored(config: WorkerConfig) -> bool | None:
    """Whether Cloudflare would ignore module-level handlers for this config's compatibility settings
    (None: no compatibility date, so no telling which handlers a deployment would call)."""
    flags = config.compatibility_flags
    if GLOBAL_HANDLERS_FLAG in flags:
        return False
    if NO_GLOBAL_HANDLERS_FLAG in flags:
        return True
    date = config.compatibility_date
    return None if date is None else date >= NO_GLOBAL_HANDLERS_DATE


def handler_differences(config: WorkerConfig, worker: WorkerModule) -> list[str]:
    """The handlers Cloudflare would not call as workerlab does, one sentence each."""
    found = []
    date = config.compatibility_date
    ignored = global_handlers_ignored(config)
    for event, handler in worker.handlers.items():
        where = f"{worker.path.name}: {handler.name}"
        if handler.style != "class" and ignored:
            found.append(
                f"{where} is a module-level handler: Cloudflare does not call those from compatibility date "
                f"{NO_GLOBAL_HANDLERS_DATE} (this worker's is {date}); move it into "
                f"class Default(WorkerEntrypoint) as async def {event}(self, ...)"
            )
        elif handler.style == "class" and ignored is False:
            found.append(
                f"{where}: before compatibility date {NO_GLOBAL_HANDLERS_DATE} (this worker's is {date}) "
                f"Cloudflare looks for on_{event} on the Default class; set compatibility_date to "
                f"{NO_GLOBAL_HANDLERS_DATE} or later (or add the flag {NO_GLOBAL_HANDLERS_FLAG})"
            )
        # Cloudflare calls a class's queue and scheduled strictly; module-level handlers relaxed.
        if (
            handler.owner is not None
            and event in _STRICT_EVENTS
            and positional_arity(handler.function, 3, skip_first=True) < 3
        ):
            found.append(
                f"{where} takes fewer than three arguments; Cloudflare always calls it with "
                f"({'batch' if event == 'queue' else 'controller'}, env, ctx): add the missing parameters"
            )
    return found


def warn_handler_differences(config: WorkerConfig, worker: WorkerModule) -> None:
    """Log each handler difference once, as a warning, when the worker loads."""
    for finding in handler_differences(config, worker):
        logger.warning("%s (workerlab runs it anyway)", finding)


@contextlib.contextmanager
def watching_import_time_work(folder: Path, found: list[str]) -> Iterator[None]:
    """While a worker imports, note each call from its own files that Cloudflare refuses at module
    top level (random values, the current time): its snapshot of the module would freeze them."""
    patched: list[tuple[Any, str, Any]] = []
    inside = f"{folder}{os.sep}"

    def watch(owner: Any, name: str, what: str) -> None:
        original = getattr(owner, name)

        def noted(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(inside):
                line = sys._getframe(1).f_lineno
                found.append(
                    f"{Path(caller).name}:{line}: {what} at import time: Cloudflare refuses random values "
                    "and the current time at module top level; move it into a handler"
                )
            return original(*args, **kwargs)

        patched.append((owner, name, original))
        setattr(owner, name, noted)

    for name in ("random", "randint", "choice", "uniform", "getrandbits", "shuffle"):
        watch(random, name, f"random.{name}()")
    watch(os, "urandom", "os.urandom()")
    watch(uuid, "uuid4", "uuid.uuid4()")
    watch(time, "time", "time.time()")
    try:
        yield
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def config_differences(config: WorkerConfig) -> list[str]:
    """A missing compatibility date, bindings with no local emulation, config keys workerlab does not
    act on, and the asset directory's rule files (``_headers``, ``_redirects``, ``.assetsignore``),
    which it does not apply."""
    from .assets import NEVER_SERVED
    from .bindings.assets import Assets
    from .bindings.not_emulated import NotEmulatedBinding

    found = (
        [
            f"{config.path.name}: compatibility_date is missing: wrangler refuses to deploy without one, and "
            f"which handlers Cloudflare calls depends on it (from {NO_GLOBAL_HANDLERS_DATE}, only Default's)"
        ]
        if config.compatibility_date is None
        else []
    )
    found += [
        f"{config.path.name}: env.{spec.binding} ({spec.label}) has no local emulation: calls fail here "
        "unless a fake is supplied (--binding, or the harness marker's bindings=)"
        for spec in config.bindings
        if isinstance(spec, NotEmulatedBinding)
    ]
    found += [
        f"{config.path.name}: {key} is a valid wrangler key that workerlab ignores"
        for key in config.ignored_keys
    ]
    found += [
        f"{_shown(spec.directory / name, config.path.parent.resolve())}: Cloudflare applies this file to the "
        "static assets; workerlab ignores it (and never serves it)"
        for spec in config.bindings
        if isinstance(spec, Assets)
        for name in sorted(NEVER_SERVED)
        if (spec.directory / name).is_file()
    ]
    return found


def _shown(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when it is inside it."""
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
