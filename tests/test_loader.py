"""Loading a worker module: the three handler styles, sync and async, relaxed arity."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workerlab.compat.request import Request
from workerlab.context import ExecutionContext
from workerlab.errors import HandlerNotFoundError, WorkerLoadError
from workerlab.loader import load_worker


def write(tmp_path: Path, source: str, name: str = "worker.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


ENV = {"NAME": "env"}


async def invoke(path: Path, event: str, argument: object = "arg"):
    worker = load_worker(path)
    return await worker.invoker(event)(argument, ENV, ExecutionContext())  # type: ignore[arg-type]


async def test_default_class_gets_ctx_and_env_and_is_made_per_event(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        from workers import WorkerEntrypoint
        made = []
        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                made.append(self)
                return (request, self.env["NAME"], type(self.ctx).__name__)
        """,
    )
    worker = load_worker(path)
    ctx = ExecutionContext()
    first = await worker.invoker("fetch")("req", ENV, ctx)
    await worker.invoker("fetch")("req", ENV, ctx)
    assert first == ("req", "env", "ExecutionContext")
    assert len(worker.module.made) == 2
    assert worker.module.made[0] is not worker.module.made[1]


async def test_a_method_whose_instance_is_not_named_self_gets_the_same_arguments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        from workers import WorkerEntrypoint
        class Default(WorkerEntrypoint):
            async def fetch(this, request):
                return (request, this.env["NAME"])
        """,
    )
    assert await invoke(path, "fetch", "req") == ("req", "env")


@pytest.mark.parametrize(
    "params, expected", [("", ()), ("a", ("arg",)), ("a, b", ("arg", ENV)), ("a, b, c", 3)]
)
async def test_module_functions_are_called_with_as_many_arguments_as_they_declare(
    tmp_path: Path, params: str, expected: object
) -> None:
    path = write(tmp_path, f"async def scheduled({params}):\n    return ({params}{',' if params else ''})\n")
    result = await invoke(path, "scheduled")
    if expected == 3:
        assert len(result) == 3 and result[:2] == ("arg", ENV)
    else:
        assert result == expected


async def test_legacy_on_names_are_found(tmp_path: Path) -> None:
    path = write(tmp_path, "def on_queue(batch, env, ctx):\n    return ('legacy', batch)\n")
    assert await invoke(path, "queue") == ("legacy", "arg")


async def test_plain_def_handlers_run_off_the_event_loop(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        import threading
        def fetch(request):
            return threading.current_thread() is threading.main_thread()
        """,
    )
    assert await invoke(path, "fetch") is False


async def test_sync_method_on_default_class(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        from workers import WorkerEntrypoint
        class Default(WorkerEntrypoint):
            def scheduled(self, controller, env, ctx):
                return ("sync", controller)
        """,
    )
    assert await invoke(path, "scheduled") == ("sync", "arg")


async def test_default_class_wins_over_module_functions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        from workers import WorkerEntrypoint
        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                return "class"
        async def fetch(request, env, ctx):
            return "function"
        async def on_queue(batch):
            return "legacy queue"
        """,
    )
    assert await invoke(path, "fetch") == "class"
    assert await invoke(path, "queue") == "legacy queue"


async def test_imported_workers_fetch_is_not_taken_for_a_handler(tmp_path: Path) -> None:
    path = write(
        tmp_path, "from workers import fetch, Response\nasync def on_fetch(request):\n    return 'mine'\n"
    )
    assert await invoke(path, "fetch", Request("http://localhost/")) == "mine"


async def test_a_legacy_on_fetch_gets_the_js_style_request(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "async def on_fetch(request):\n    return type(request).__name__, await request.arrayBuffer()\n",
    )
    name, body = await invoke(path, "fetch", Request("http://localhost/", method="POST", body=b"raw"))
    assert name != "Request"
    assert bytes(body) == b"raw"


def test_missing_handler_names_the_module_and_what_was_looked_for(tmp_path: Path) -> None:
    path = write(tmp_path, "async def fetch(request):\n    return 1\n")
    worker = load_worker(path)
    with pytest.raises(HandlerNotFoundError) as caught:
        worker.invoker("queue")
    message = str(caught.value)
    assert str(path) in message
    assert "Default" in message and "queue(batch, env, ctx)" in message and "on_queue" in message


def test_import_error_is_a_user_error_with_the_users_frames_only(tmp_path: Path) -> None:
    path = write(tmp_path, "def helper():\n    raise RuntimeError('bad import-time code')\nhelper()\n")
    with pytest.raises(WorkerLoadError) as caught:
        load_worker(path)
    message = str(caught.value)
    assert "RuntimeError: bad import-time code" in message
    assert "worker.py" in message
    assert "workerlab/loader.py" not in message
    assert caught.value.user_fault


def test_missing_main_module_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(WorkerLoadError, match="does not exist"):
        load_worker(tmp_path / "nope.py")


def test_reload_imports_edited_helper_modules_afresh(tmp_path: Path) -> None:
    write(tmp_path, "VALUE = 1\n", name="helperlib_for_reload.py")
    path = write(tmp_path, "from helperlib_for_reload import VALUE\n")
    assert load_worker(path).module.VALUE == 1
    write(tmp_path, "VALUE = 2\n", name="helperlib_for_reload.py")
    assert load_worker(path).module.VALUE == 2


def test_two_workers_with_same_named_helpers_each_get_their_own(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, value in ((first, "one"), (second, "two")):
        folder.mkdir()
        write(folder, f"VALUE = {value!r}\n", name="shared_helper_name.py")
        write(folder, "from shared_helper_name import VALUE\n")
    assert load_worker(first / "worker.py").module.VALUE == "one"
    assert load_worker(second / "worker.py").module.VALUE == "two"
    assert load_worker(first / "worker.py").module.VALUE == "one"


async def test_plain_def_handler_can_use_wait_until(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        import workers
        done = []
        async def later(tag):
            done.append(tag)
        def queue(batch, env, ctx):
            ctx.waitUntil(later("ctx"))
            workers.wait_until(later("module"))
        """,
    )
    worker = load_worker(path)
    ctx = ExecutionContext()
    from workerlab.context import current_context

    token = current_context.set(ctx)
    try:
        await worker.invoker("queue")("batch", ENV, ctx)
    finally:
        current_context.reset(token)
    assert await ctx.wait() == []
    assert sorted(worker.module.done) == ["ctx", "module"]


def test_modules_imported_before_the_first_load_are_left_alone(tmp_path: Path) -> None:
    import importlib
    import sys

    write(tmp_path, "MARK = object()\n", name="preloaded_test_support.py")
    write(tmp_path, "from preloaded_test_support import MARK\n")
    sys.path.insert(0, str(tmp_path))
    try:
        preloaded = importlib.import_module("preloaded_test_support")
        load_worker(tmp_path / "worker.py")
        load_worker(tmp_path / "worker.py")
        assert sys.modules["preloaded_test_support"] is preloaded
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("preloaded_test_support", None)


def test_sys_exit_while_importing_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path, "import sys\nsys.exit(3)\n")
    with pytest.raises(WorkerLoadError, match=r"called sys.exit\(3\)"):
        load_worker(path)
