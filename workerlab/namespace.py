"""Each worker's modules in a namespace of their own, so that several workers live in one process.

A worker's folder is never put on ``sys.path``. Its modules are imported as submodules of a
package made for that load (``_wl3_auth_worker.utils``), and they get a ``__builtins__`` whose
``__import__`` sends an absolute import of a name the folder holds (``import utils``,
``from config import X``) to that package. So two workers may both have a ``worker.py``, a
``utils.py`` or a ``config.py``; a worker's ``queue.py`` or ``email.py`` is its own and never
shadows the standard library for workerlab or for another worker; and every other import
(the standard library, installed packages, ``workers``) works as usual. Only code in the
worker's folder pays for the redirection.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import itertools
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

#: Prefix of the packages that hold workers' modules (stripped again from tracebacks).
PACKAGE_PREFIX = "_wl"
#: A worker package's name inside a dotted module name, e.g. ``_wl3_auth_worker.``.
PACKAGE_PATTERN = re.compile(rf"\b{PACKAGE_PREFIX}\d+_\w*\.")

_generation = itertools.count(1)
_original_import = builtins.__import__


class WorkerNamespace:
    """The package a worker's modules are imported into, for one load of the worker."""

    def __init__(self, name: str, folder: Path) -> None:
        self.folder = folder
        self.package = f"{PACKAGE_PREFIX}{next(_generation)}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
        self._owned: dict[str, bool] = {}
        self.builtins: dict[str, Any] = dict(builtins.__dict__)
        self.builtins["__import__"] = self._import
        self._importlib = _ImportlibView(self)
        package = ModuleType(self.package, f"The modules of the worker in {folder}")
        package.__path__ = [str(folder)]
        package.__package__ = self.package
        package.__file__ = None
        sys.modules[self.package] = package
        _FINDER.namespaces[self.package] = self

    def import_main(self, main: Path) -> ModuleType:
        """Import the worker's main module (``main`` is a .py file in the folder)."""
        return importlib.import_module(f"{self.package}.{main.stem}")

    def forget(self) -> None:
        """Drop every module of this namespace from ``sys.modules`` (the worker was unloaded)."""
        _FINDER.namespaces.pop(self.package, None)
        prefix = self.package + "."
        for name in [n for n in sys.modules if n == self.package or n.startswith(prefix)]:
            del sys.modules[name]

    def owns(self, top: str) -> bool:
        """Whether ``import <top>`` means a module in the worker's folder.

        A module (``top.py``) or a package (``top/__init__.py``) there always is the worker's; a
        plain folder only when nothing else of that name exists, since Python prefers any regular
        module or package to a namespace folder (an ``email/`` of templates never hides ``email``).
        """
        owned = self._owned.get(top)
        if owned is None:
            folder = self.folder / top
            owned = top.isidentifier() and (
                (self.folder / f"{top}.py").is_file()
                or (folder / "__init__.py").is_file()
                or (folder.is_dir() and not _found_elsewhere(top))
            )
            self._owned[top] = owned
        return owned

    def import_module(self, name: str, package: str | None = None) -> ModuleType:
        """``importlib.import_module`` as the worker's own code sees it: its modules first."""
        if not name.startswith(".") and self.owns(name.partition(".")[0]):
            return importlib.import_module(f"{self.package}.{name}")
        return importlib.import_module(name, package)

    def _import(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> ModuleType:
        if level == 0:
            if name == "importlib" or (name.startswith("importlib.") and not fromlist):
                # `import importlib` / `import importlib.util` bind the name importlib: the worker's view.
                _original_import(name, globals, locals, fromlist, level)
                return self._importlib
            top = name.partition(".")[0]
            if self.owns(top):
                full = f"{self.package}.{name}"
                module = _original_import(full, globals, locals, fromlist, 0)
                # `import a.b` binds `a`: the worker's `a`, not the package that holds it.
                return module if fromlist else sys.modules[f"{self.package}.{top}"]
        return _original_import(name, globals, locals, fromlist, level)


def _found_elsewhere(top: str) -> bool:
    """Whether ``import <top>`` finds something outside the worker's folder."""
    if top in sys.builtin_module_names or top in sys.modules:
        return True
    try:
        return importlib.machinery.PathFinder.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


class _ImportlibView(ModuleType):
    """``importlib`` as a worker's code imports it: ``import_module`` finds the worker's modules."""

    def __init__(self, namespace: WorkerNamespace) -> None:
        super().__init__("importlib", importlib.__doc__)
        self.import_module = namespace.import_module

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib, name)


class _WorkerLoader:
    """Runs a worker's module with the worker's ``__builtins__`` (the loader it wraps does the rest).

    A loader by protocol rather than an ``importlib.abc`` subclass: that module costs start-up time."""

    def __init__(self, inner: Any, namespace: WorkerNamespace) -> None:
        self._inner = inner
        self._namespace = namespace

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__builtins__"] = self._namespace.builtins
        self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, ... (tracebacks and inspect ask for them) are the inner loader's.
        return getattr(self._inner, name)


class _NamespaceFinder:
    """Finds the modules of worker packages in their folders, to run them with the worker's builtins."""

    def __init__(self) -> None:
        self.namespaces: dict[str, WorkerNamespace] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PACKAGE_PREFIX):
            return None
        namespace = self.namespaces.get(fullname.partition(".")[0])
        if namespace is None or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WorkerLoader(spec.loader, namespace)  # type: ignore[assignment]
        return spec


_FINDER = _NamespaceFinder()
sys.meta_path.insert(0, _FINDER)
