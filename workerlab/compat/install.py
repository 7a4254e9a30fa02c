"""Make ``import workers``, ``import js``, ``import pyodide.ffi``... give workerlab's modules.

:func:`install_sdk_modules` puts :class:`SdkModuleFinder` first on ``sys.meta_path``: each
module of :data:`SDK_MODULE_NAMES` is built on its first import, from workerlab's
implementation, as a module of its own that holds exactly the public names (no ``__file__``, so
``from workers import Nope`` says ``cannot import name 'Nope' from 'workers'`` and shows no
workerlab path). Modules of those names that some installed package put in ``sys.modules`` are
dropped, so user code always gets these.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Loader as _FinderBase
else:  # finders and loaders are duck-typed: importing importlib.abc costs a millisecond at start-up
    _FinderBase = object

#: The modules workerlab provides to user code, parents before their submodules.
SDK_MODULE_NAMES: tuple[str, ...] = (
    "workers",
    "workers.asgi",
    "workers.wsgi",
    "workers.workflows",
    "asgi",
    "js",
    "pyodide",
    "pyodide.ffi",
    "pyodide.http",
)

#: The Pyodide version whose behaviour the ``pyodide`` and ``js`` modules follow (Cloudflare's
#: default for compatibility dates from 2025-09-29: ``jsnull`` exists, ``to_js(dict)`` is a Map).
PYODIDE_VERSION = "0.28.2"

#: Top-level modules that are packages (their submodules come from the finder too).
_PACKAGES = frozenset({"workers", "pyodide"})
#: ``asgi`` is the module ``workers.asgi`` under a second name, as Cloudflare's shim makes it.
_ALIASES = {"asgi": "workers.asgi"}
#: Submodules imported with their package (``import pyodide`` then ``pyodide.ffi`` works).
_EAGER_SUBMODULES = {"pyodide": ("pyodide.ffi", "pyodide.http")}


def _names_of(module_path: str, names: Sequence[str] | None = None) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        module = importlib.import_module(module_path)
        public = getattr(module, "public_names", None)
        if names is None and callable(public):
            found: dict[str, Any] = public()
            return found
        chosen = names if names is not None else module.__all__
        return {name: getattr(module, name) for name in chosen}

    return load


def _pyodide_names() -> dict[str, Any]:
    return {"__version__": PYODIDE_VERSION}


# name -> (what the module holds, the implementation whose __getattr__ it borrows, if any)
_CONTENTS: dict[str, tuple[Callable[[], dict[str, Any]], str | None]] = {
    "workers": (_names_of("workerlab.compat.workers"), None),
    "workers.asgi": (_names_of("workerlab.compat.asgi", ("fetch", "websocket")), "workerlab.compat.asgi"),
    "workers.wsgi": (_names_of("workerlab.compat.wsgi", ("fetch",)), None),
    "workers.workflows": (_names_of("workerlab.compat.workflows"), None),
    "js": (_names_of("workerlab.compat.js"), "workerlab.compat.js"),
    "pyodide": (_pyodide_names, None),
    "pyodide.ffi": (_names_of("workerlab.compat.ffi"), None),
    "pyodide.http": (_names_of("workerlab.compat.pyodide_http"), None),
}

_built: dict[str, types.ModuleType] = {}


def _build(name: str) -> types.ModuleType:
    contents, borrowed = _CONTENTS[name]
    module = types.ModuleType(name, f"Cloudflare's {name!r} module, as workerlab provides it locally.")
    values = contents()
    for key, value in values.items():
        setattr(module, key, value)
    module.__dict__["__all__"] = [key for key in values if not key.startswith("_")]
    if borrowed is not None:
        setattr(module, "__getattr__", importlib.import_module(borrowed).__getattr__)  # noqa: B010
    if name in _PACKAGES:
        module.__path__ = []
    return module


def sdk_module(name: str) -> types.ModuleType:
    """The module user code gets for ``import <name>`` (``name`` is in :data:`SDK_MODULE_NAMES`)."""
    name = _ALIASES.get(name, name)
    module = _built.get(name)
    if module is None:
        module = _built[name] = _build(name)
    return module


class SdkModuleFinder(_FinderBase):
    """Finds and loads the modules of :data:`SDK_MODULE_NAMES`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in SDK_MODULE_NAMES:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=_ALIASES.get(fullname, fullname) in _PACKAGES
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name in _ALIASES:
            importlib.import_module(_ALIASES[spec.name])
        return sdk_module(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and spec.name in _ALIASES:
            # The import system gave the shared module the alias's spec: it keeps one of its own.
            module.__spec__ = importlib.machinery.ModuleSpec(_ALIASES[spec.name], self)
            return
        parent, _, child = module.__name__.rpartition(".")
        if parent:
            setattr(sdk_module(parent), child, module)
        for submodule in _EAGER_SUBMODULES.get(module.__name__, ()):
            importlib.import_module(submodule)


_finder = SdkModuleFinder()


def install_sdk_modules() -> None:
    """Make the names of :data:`SDK_MODULE_NAMES` import workerlab's modules (idempotent)."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in SDK_MODULE_NAMES:
        present = sys.modules.get(name)
        if present is not None and present is not _built.get(_ALIASES.get(name, name)):
            del sys.modules[name]  # another package's module of that name


def uninstall_sdk_modules() -> None:
    """Undo :func:`install_sdk_modules`: the names import whatever is installed, if anything."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in SDK_MODULE_NAMES:
        if name in sys.modules and sys.modules[name] is _built.get(_ALIASES.get(name, name)):
            del sys.modules[name]
