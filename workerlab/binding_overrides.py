"""``workerlab dev --binding NAME=module:factory``: replace a binding of every worker with an object
the user's own code makes (a fake Workers AI, a stub Vectorize index, ...)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .tracebacks import format_user_traceback


def load_overrides(flags: Sequence[str], folder: Path) -> dict[str, Any]:
    """``NAME=module:factory`` flags -> {NAME: factory()}; ``module`` is imported from ``folder``."""
    overrides: dict[str, Any] = {}
    for flag in flags:
        name, sep, target = flag.partition("=")
        module_name, colon, factory_name = target.partition(":")
        if not sep or not name or not colon or not module_name or not factory_name:
            raise ConfigError(
                f"--binding must be NAME=module:factory (e.g. AI=fakes:make_ai), found {json.dumps(flag)}"
            )
        overrides[name] = _make(name, module_name, factory_name, folder)
    return overrides


def _make(name: str, module_name: str, factory_name: str, folder: Path) -> Any:
    where = f"--binding {name}={module_name}:{factory_name}"
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop(module_name, None)  # a reload reads the file again
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"{where}: cannot import {module_name!r} from {folder}: {error}") from None
    except Exception as error:
        raise ConfigError(
            f"{where}: importing {module_name!r} failed:\n{format_user_traceback(error)}"
        ) from None
    finally:
        sys.path.remove(str(folder))
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        found = "nothing of that name" if factory is None else f"a {type(factory).__name__}"
        raise ConfigError(f"{where}: {module_name}.{factory_name} must be a callable factory, found {found}")
    try:
        return factory()
    except Exception as error:
        raise ConfigError(f"{where}: {factory_name}() raised:\n{format_user_traceback(error)}") from None
