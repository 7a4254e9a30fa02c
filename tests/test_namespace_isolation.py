"""Each worker of a session keeps its own modules (SPEC §10): worker.py, utils.py, config.py, a
Default class, packages, and modules named like the standard library's, without seeing another
worker's and without hiding the standard library from workerlab or from the other workers."""

from __future__ import annotations

import email.message
import hashlib
import http
import queue
import sys
import sysconfig
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from workerlab.testing import Worker

PROJECTS = Path(__file__).parent / "projects"
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


@pytest.fixture
async def trio() -> AsyncIterator[Worker]:
    """The shop (primary), auth and mailer workers of tests/projects, loaded together."""
    worker = await Worker.start(
        PROJECTS / "shop" / "wrangler.toml",
        workers=[PROJECTS / "auth" / "wrangler.toml", PROJECTS / "mailer" / "wrangler.toml"],
    )
    yield worker
    assert await worker.close() == []


def write_worker(folder: Path, name: str, files: dict[str, str], *, main: str = "worker.py") -> Path:
    """Write a worker's files (dedented) and its wrangler.toml; return the config's path."""
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    config = folder / "wrangler.toml"
    config.write_text(f'name = "{name}"\nmain = "{main}"\n')
    return config


def project_files() -> set[Path]:
    """Files of tests/projects that are loaded as modules right now."""
    loaded = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(PROJECTS.resolve()):
            loaded.add(Path(file).resolve())
    return loaded


def is_stdlib(module: object) -> bool:
    return Path(str(getattr(module, "__file__", ""))).resolve().is_relative_to(STDLIB)


# --- three workers, each with worker.py, utils.py, config.py and a Default class ------------------


async def test_each_worker_runs_its_own_worker_utils_config_and_default(trio: Worker) -> None:
    for name in ("shop", "auth", "mailer"):
        module = trio.workers[name].module
        assert Path(module.__file__) == PROJECTS / name / "worker.py"
        assert Path(module.utils.__file__) == PROJECTS / name / "utils.py"
        # `from config import NAME` in worker.py and in utils.py: each worker's own config.py
        assert (module.NAME, module.utils.owner()) == (name, f"utils of {name}")
    defaults = {trio.workers[name].module.Default for name in ("shop", "auth", "mailer")}
    assert len(defaults) == 3

    assert await (await trio.fetch("/whoami")).json() == {
        "worker": "shop",
        "utils": "utils of shop",
        "price": "19.99 EUR",
    }
    assert await trio.env.AUTH.whoami() == {"worker": "auth", "utils": "utils of auth", "realm": "accounts"}
    mailer = await (await trio.workers["mailer"].fetch("/")).json()
    assert (mailer["worker"], mailer["utils"]) == ("mailer", "utils of mailer")


async def test_a_workers_own_queue_email_and_http_modules_are_its_own(trio: Worker) -> None:
    mailer = trio.workers["mailer"].module
    assert [Path(mailer.queue.__file__), Path(mailer.email.__file__), Path(mailer.http.__file__)] == [
        PROJECTS / "mailer" / "queue.py",
        PROJECTS / "mailer" / "email.py",
        PROJECTS / "mailer" / "http.py",
    ]
    page = await (await trio.workers["mailer"].fetch("/")).json()
    assert page["email"] == "shop@example.com"
    assert page["http"] == "https://mail-provider.example/v3/send"


async def test_the_standard_library_stays_intact_for_the_other_workers(trio: Worker) -> None:
    assert await (await trio.fetch("/stdlib")).json() == {
        "queue": "wrap gift",
        "email": "Thanks",
        "http": "I'm a Teapot",
    }
    shop, auth = trio.workers["shop"].module, trio.workers["auth"].module
    assert all(is_stdlib(module) for module in (shop.queue, shop.email, shop.http, auth.queue, auth.http))
    await trio.env.AUTH.verify("t-bob")
    assert auth.AUDIT.get_nowait() == "t-bob"  # auth's queue.SimpleQueue works


async def test_the_standard_library_stays_intact_for_workerlab(trio: Worker) -> None:
    import importlib

    for name in ("queue", "email", "http"):
        assert is_stdlib(sys.modules[name])
        assert is_stdlib(importlib.import_module(name))
    assert queue.Queue().empty()
    assert email.message.EmailMessage().get_content_type() == "text/plain"
    assert http.HTTPStatus(202).phrase == "Accepted"
    # workerlab's own queue machinery, which imports these modules, still delivers.
    response = await trio.fetch("/orders", method="POST", json={"email": "ada@example.com", "item": "tea"})
    assert response.status == 202
    await trio.drain()
    assert trio.workers["mailer"].module.SENT == [
        {"from": "shop@example.com", "to": "ada@example.com", "subject": "Your order: tea"}
    ]


async def test_lazy_imports_inside_handlers_resolve_to_the_workers_own_modules(trio: Worker) -> None:
    # Both run after all three workers are loaded, when every worker's modules are importable.
    assert await (await trio.fetch("/lazy")).json() == ["shop", "utils of shop", "0.05 EUR"]
    page = await (await trio.workers["mailer"].fetch("/")).json()
    assert page["lazy"] == [True, True]  # `import email` / `import queue` in the handler: its own


async def test_a_package_folder_with_relative_imports_is_each_workers_own(trio: Worker) -> None:
    shop_lib = sys.modules[trio.workers["shop"].module.price_label.__module__]
    auth_lib = sys.modules[trio.workers["auth"].module.sign.__module__]
    assert Path(shop_lib.__file__) == PROJECTS / "shop" / "lib" / "pricing.py"
    assert Path(auth_lib.__file__) == PROJECTS / "auth" / "lib" / "signing.py"
    stats = await trio.env.ADMIN.stats()
    assert stats.signature == hashlib.sha256(b"auth-local-key:stats").hexdigest()[:12]
    # shop's lib/money.py imports the shop's config (CURRENCY) from inside the package.
    assert (await (await trio.fetch("/whoami")).json())["price"] == "19.99 EUR"


async def test_no_worker_module_is_importable_by_its_plain_name(trio: Worker) -> None:
    for name in ("worker", "utils", "config", "lib"):
        module = sys.modules.get(name)
        assert module is None or not Path(str(getattr(module, "__file__", ""))).is_relative_to(PROJECTS)
    assert PROJECTS / "shop" / "utils.py" in project_files()


async def test_closing_a_session_forgets_its_modules() -> None:
    before = project_files()
    worker = await Worker.start(
        PROJECTS / "shop" / "wrangler.toml", workers=[PROJECTS / "auth" / "wrangler.toml"]
    )
    assert PROJECTS / "auth" / "lib" / "keys.py" in project_files()
    assert await worker.close() == []
    assert project_files() == before


# --- small workers written for one test --------------------------------------------------------


async def test_a_worker_never_gets_a_module_only_another_worker_has(tmp_path: Path) -> None:
    owner = write_worker(
        tmp_path / "owner",
        "owner",
        {"worker.py": "import utils\n\ndef fetch(request):\n    pass\n", "utils.py": "X = 1\n"},
    )
    other = write_worker(
        tmp_path / "other",
        "other",
        {
            "worker.py": """
                from workers import Response

                def fetch(request):
                    try:
                        import utils
                    except ModuleNotFoundError as error:
                        return Response(f"missing {error.name}")
                    return Response(f"found {utils.__file__}")
            """
        },
    )
    worker = await Worker.start(other, workers=[owner])
    try:
        assert await (await worker.fetch("/")).text() == "missing utils"
    finally:
        assert await worker.close() == []


async def test_the_src_layout_imports_next_to_the_main_module(tmp_path: Path) -> None:
    # Cloudflare's Python template: main = "src/entry.py", the worker's modules in src/.
    config = write_worker(
        tmp_path / "api",
        "api",
        {
            "src/entry.py": """
                from workers import WorkerEntrypoint

                from handlers import reply

                class Default(WorkerEntrypoint):
                    def fetch(self, request):  # a plain def: runs in a thread
                        from handlers import reply as again

                        return again(request.url) if again is reply else None
            """,
            "src/handlers.py": """
                from workers import Response

                def reply(url):
                    return Response("handled " + url)
            """,
        },
        main="src/entry.py",
    )
    worker = await Worker.start(config)
    try:
        assert await (await worker.fetch("/x")).text() == "handled http://localhost/x"
    finally:
        assert await worker.close() == []


async def test_import_workers_works_in_every_module_of_a_worker(tmp_path: Path) -> None:
    config = write_worker(
        tmp_path / "api",
        "api",
        {
            "worker.py": """
                import workers

                import respond
                from lib.helpers import SDK as LIB_SDK

                class Default(workers.WorkerEntrypoint):
                    async def fetch(self, request):
                        from workers import Response

                        same = Response is respond.SDK.Response is LIB_SDK.Response is workers.Response
                        return respond.ok(f"same sdk: {same}")
            """,
            "respond.py": """
                import workers as SDK
                from workers import Response

                def ok(text):
                    return Response(text, headers={"x-made-by": "respond"})
            """,
            "lib/__init__.py": "",
            "lib/helpers.py": "import workers as SDK\n",
        },
    )
    worker = await Worker.start(config)
    try:
        response = await worker.fetch("/")
        assert (await response.text(), response.headers.get("x-made-by")) == ("same sdk: True", "respond")
    finally:
        assert await worker.close() == []


async def test_a_module_that_imports_the_main_module_gets_the_loaded_one(tmp_path: Path) -> None:
    config = write_worker(
        tmp_path / "api",
        "api",
        {
            "worker.py": """
                from workers import Response

                import routes

                GREETING = "hello"

                async def fetch(request):
                    return Response(routes.greeting())
            """,
            "routes.py": """
                def main_module():
                    import worker  # the main module as loaded, not a second copy

                    return worker

                def greeting():
                    return main_module().GREETING + " from routes"
            """,
        },
    )
    worker = await Worker.start(config)
    try:
        assert await (await worker.fetch("/")).text() == "hello from routes"
        assert worker.module.routes.main_module() is worker.module
    finally:
        assert await worker.close() == []


async def test_one_folder_deployed_as_two_workers_keeps_two_module_states(tmp_path: Path) -> None:
    # wrangler.toml and wrangler.admin.toml side by side, both with main = "worker.py".
    write_worker(
        tmp_path,
        "public",
        {
            "worker.py": """
                from workers import Response

                import counter

                async def fetch(request, env):
                    return Response(f"{env.ROLE} {counter.bump()}")
            """,
            "counter.py": """
                HITS = []

                def bump():
                    HITS.append(1)
                    return len(HITS)
            """,
        },
    )
    public = tmp_path / "wrangler.toml"
    public.write_text(public.read_text() + '[vars]\nROLE = "public"\n')
    admin = tmp_path / "wrangler.admin.toml"
    admin.write_text('name = "admin"\nmain = "worker.py"\n[vars]\nROLE = "admin"\n')
    worker = await Worker.start(public, workers=[admin])
    try:
        assert [await (await worker.fetch("/")).text() for _ in range(2)] == ["public 1", "public 2"]
        assert await (await worker.workers["admin"].fetch("/")).text() == "admin 1"
    finally:
        assert await worker.close() == []


async def test_loading_the_same_config_twice_gives_fresh_modules() -> None:
    config = PROJECTS / "shop" / "wrangler.toml"
    first = await Worker.start(config)
    second = await Worker.start(config)
    try:
        assert first.module is not second.module
        assert first.module.utils is not second.module.utils
        assert first.module.price_label is not second.module.price_label
        first.module.CRONS.append("only in the first")
        assert second.module.CRONS == []
        assert await first.close() == []
        # The second load's modules (and its lazy imports) outlive the first one's.
        assert await (await second.fetch("/lazy")).json() == ["shop", "utils of shop", "0.05 EUR"]
    finally:
        assert await second.close() == []


async def test_a_data_folder_named_like_a_standard_library_package_does_not_hide_it(tmp_path: Path) -> None:
    config = write_worker(
        tmp_path / "mailer",
        "mailer",
        {
            "email/welcome.html": "<p>Welcome, {name}!</p>\n",
            "worker.py": """
                from email.message import EmailMessage
                from pathlib import Path

                from workers import Response

                TEMPLATES = Path(__file__).parent / "email"

                async def fetch(request):
                    message = EmailMessage()
                    message.set_content((TEMPLATES / "welcome.html").read_text().format(name="Ada"))
                    return Response(message.get_content())
            """,
        },
    )
    worker = await Worker.start(config)
    try:
        assert await (await worker.fetch("/")).text() == "<p>Welcome, Ada!</p>\n"
    finally:
        assert await worker.close() == []


async def test_importlib_import_module_finds_the_workers_own_modules(tmp_path: Path) -> None:
    config = write_worker(
        tmp_path / "api",
        "api",
        {
            "handlers/__init__.py": "",
            "handlers/orders.py": """
                from workers import Response

                def handle(request):
                    return Response("orders")
            """,
            "worker.py": """
                import importlib

                async def fetch(request):
                    section = request.url.rsplit("/", 1)[1]
                    return importlib.import_module(f"handlers.{section}").handle(request)
            """,
        },
    )
    worker = await Worker.start(config)
    try:
        assert await (await worker.fetch("/orders")).text() == "orders"
    finally:
        assert await worker.close() == []
