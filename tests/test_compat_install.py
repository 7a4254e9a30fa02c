"""install_sdk_modules(): workers, asgi, js and pyodide import workerlab's modules, by name."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from collections.abc import Iterator

import pytest

from workerlab.compat import install
from workerlab.compat.install import SDK_MODULE_NAMES, install_sdk_modules, sdk_module, uninstall_sdk_modules
from workerlab.compat.response import Response


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    install_sdk_modules()
    yield
    uninstall_sdk_modules()


def test_every_name_imports() -> None:
    for name in SDK_MODULE_NAMES:
        module = importlib.import_module(name)
        assert module is sdk_module(name)
        assert not hasattr(module, "__file__")
    asgi = importlib.import_module("asgi")
    pyodide = importlib.import_module("pyodide")
    workers = importlib.import_module("workers")
    assert asgi is importlib.import_module("workers.asgi") is workers.asgi
    assert asgi.__spec__ is not None and asgi.__spec__.name == "workers.asgi"
    assert pyodide.ffi is sys.modules["pyodide.ffi"] and pyodide.__version__ == install.PYODIDE_VERSION
    assert workers.Response is Response


def test_workers_has_the_sdk_names_and_headers_is_a_type_alias() -> None:
    workers = importlib.import_module("workers")

    assert "env" in workers.__all__ and "patch_env" in workers.__all__
    assert isinstance(workers.Headers, str)  # as on Cloudflare: a type alias, not a class
    workflows = importlib.import_module("workers.workflows")
    assert workflows.NonRetryableError("x").name == "NonRetryableError"


@pytest.mark.parametrize(
    ("module", "name"), [("workers", "Nope"), ("js", "HTMLRewriter"), ("workers.asgi", "nothing")]
)
def test_a_missing_name_shows_no_workerlab_path(module: str, name: str) -> None:
    with pytest.raises(ImportError) as caught:
        exec(f"from {module} import {name}", {})
    message = str(caught.value)
    assert message.startswith(f"cannot import name {name!r} from {module!r}")
    assert "workerlab" not in message


def test_other_packages_modules_of_those_names_are_replaced() -> None:
    foreign = types.ModuleType("js")
    sys.modules["js"] = foreign
    install_sdk_modules()
    js = importlib.import_module("js")
    assert js is not foreign and hasattr(js, "Response")


def test_uninstall_removes_the_modules() -> None:
    uninstall_sdk_modules()
    assert "workers" not in sys.modules and "pyodide" not in sys.modules
    # (the pytest plugin's own finder still lets test modules import them, last of all finders)
    assert not any(type(finder).__name__ == "SdkModuleFinder" for finder in sys.meta_path)
    install_sdk_modules()
    assert importlib.import_module("pyodide.ffi").jsnull is not None


def test_importing_the_sdk_stays_cheap() -> None:
    code = (
        "import sys\n"
        "from workerlab.compat.install import install_sdk_modules\n"
        "install_sdk_modules()\n"
        "import workers, js, pyodide.ffi, asgi\n"
        "print(sorted(m for m in ('httpx', 'starlette', 'fastapi', 'django') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
