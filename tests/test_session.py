"""Sessions of several workers (SPEC §10): loading in two phases, one exit stack for everything
opened (also when opening fails half-way), the rules that span workers, and the start-up table."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from workerlab.bindings import kv, r2
from workerlab.bindings.d1 import D1Error
from workerlab.bindings.kv import KVNamespaceBinding
from workerlab.clock import FAKE_CLOCK_START_S, FakeClock
from workerlab.config import load_config
from workerlab.errors import ConfigError, WorkerLoadError
from workerlab.session import Session, SessionOptions
from workerlab.startup_table import bindings_table

PROJECTS = Path(__file__).parent / "projects"

KV_TOML = """
[[kv_namespaces]]
binding = "CACHE"
id = "cache"
"""
QUEUE_TOML = """
[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"
"""
D1_TOML = """
[[d1_databases]]
binding = "DB"
database_name = "app"
"""
R2_TOML = """
[[r2_buckets]]
binding = "FILES"
bucket_name = "files"
"""
#: One binding of each kind that keeps a database open (bindings open in kind order: queue, KV, D1, R2).
STORE_TOML = KV_TOML + QUEUE_TOML + D1_TOML + R2_TOML

QUEUE_HANDLER = "async def queue(batch, env, ctx):\n    pass\n"


def write_worker(folder: Path, name: str, source: str = QUEUE_HANDLER, toml: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(source))
    config = folder / "wrangler.toml"
    config.write_text(f'name = "{name}"\nmain = "worker.py"\n' + textwrap.dedent(toml))
    return config


def options(persist_dir: Path | None = None, **more: Any) -> SessionOptions:
    return SessionOptions(persist_dir=persist_dir, clock=FakeClock(FAKE_CLOCK_START_S), **more)


def open_databases(persist_dir: Path) -> list[str]:
    """The SQLite files under ``persist_dir`` some connection still holds (a WAL file is left while
    a connection is open; the last one to close removes it)."""
    return sorted(str(p.relative_to(persist_dir)).removesuffix("-wal") for p in persist_dir.rglob("*-wal"))


def loaded_from(folder: Path) -> list[str]:
    """The modules loaded from files under ``folder`` that are still in sys.modules."""
    return [
        name
        for name, module in list(sys.modules.items())
        if Path(str(getattr(module, "__file__", None) or "/")).is_relative_to(folder)
    ]


class RecordingSession(Session):
    """A Session that remembers its last instance, to look at one whose open() failed."""

    last: Session | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingSession.last = self


@pytest.fixture
def opened_kv(monkeypatch: pytest.MonkeyPatch) -> list[KVNamespaceBinding]:
    """Every KV binding the sessions of the test open."""
    opened: list[KVNamespaceBinding] = []
    open_kv = kv.KIND.open

    async def recording_open(spec: Any, site: Any) -> KVNamespaceBinding:
        binding = await open_kv(spec, site)
        opened.append(binding)
        return binding

    monkeypatch.setattr(kv.KIND, "open", recording_open)
    return opened


@pytest.fixture
async def sessions() -> AsyncIterator[Callable[..., Awaitable[Session]]]:
    """Open sessions, closed at the end of the test."""
    opened: list[Session] = []

    async def open_session(configs: list[Path], session_options: SessionOptions | None = None) -> Session:
        session = await Session.open([load_config(c) for c in configs], session_options or options())
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        await session.close()


# --- opening fails half-way: everything opened before is closed -----------------------------------


async def test_a_broken_migration_closes_the_bindings_opened_before_it(
    tmp_path: Path, opened_kv: list[KVNamespaceBinding]
) -> None:
    config = write_worker(tmp_path / "store", "store", toml=STORE_TOML)
    migrations = tmp_path / "store" / "migrations"
    migrations.mkdir()
    (migrations / "0001_users.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_orders.sql").write_text("CREATE TABL orders (id INTEGER);\n")
    state = tmp_path / "state"

    with pytest.raises(D1Error, match=r"0002_orders\.sql failed at line 1"):
        await RecordingSession.open([load_config(config)], options(state))

    failed = RecordingSession.last
    assert failed is not None and failed.broker is not None  # the queue binding opened the broker
    assert sorted(p.name for p in state.rglob("*.sqlite3")) == [
        "app.sqlite3",
        "cache.sqlite3",
        "queues.sqlite3",
    ]
    assert open_databases(state) == []
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        await opened_kv[0].get("k")
    assert loaded_from(tmp_path) == []
    # The first migration stayed applied (each file is its own transaction); reopening works.
    (migrations / "0002_orders.sql").write_text("CREATE TABLE orders (id INTEGER);\n")
    session = await Session.open([load_config(config)], options(state))
    try:
        tables = (
            await session.workers["store"].env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").all()
        )
        assert [row["name"] for row in tables.results] == ["0001_users.sql", "0002_orders.sql"]
    finally:
        await session.close()
    assert open_databases(state) == []


async def test_a_kind_whose_open_raises_closes_every_worker_opened_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened_kv: list[KVNamespaceBinding]
) -> None:
    first = write_worker(tmp_path / "first", "first", toml=KV_TOML + QUEUE_TOML + D1_TOML)
    second = write_worker(tmp_path / "second", "second", "", KV_TOML.replace("cache", "cache2") + R2_TOML)

    async def failing_open(spec: Any, site: Any) -> Any:
        raise OSError(f"cannot open bucket {spec.bucket_name}: disk full")

    monkeypatch.setattr(r2.KIND, "open", failing_open)
    state = tmp_path / "state"
    with pytest.raises(OSError, match="disk full"):
        await Session.open([load_config(first), load_config(second)], options(state))
    assert len(opened_kv) == 2  # the first worker's CACHE, and the second's (opened before its bucket)
    for binding in opened_kv:
        with pytest.raises(sqlite3.ProgrammingError):
            await binding.put("k", "v")
    assert open_databases(state) == []
    assert loaded_from(tmp_path) == []


async def test_a_worker_that_fails_to_import_unloads_the_ones_loaded_before(tmp_path: Path) -> None:
    good = write_worker(tmp_path / "good", "good")
    bad = write_worker(tmp_path / "bad", "bad", "import utils\n")
    (tmp_path / "bad" / "utils.py").write_text("raise RuntimeError('utils is broken')\n")
    with pytest.raises(WorkerLoadError, match="utils is broken"):
        await Session.open([load_config(good), load_config(bad)], options())
    assert loaded_from(tmp_path) == []


# --- closing ------------------------------------------------------------------------------------


async def test_close_runs_every_closer_even_when_one_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_worker(tmp_path / "store", "store", toml=STORE_TOML)
    state = tmp_path / "state"
    really_close = KVNamespaceBinding.close

    def failing_close(self: KVNamespaceBinding) -> None:
        raise OSError("the KV file vanished")

    monkeypatch.setattr(KVNamespaceBinding, "close", failing_close)
    session = await Session.open([load_config(config)], options(state))
    cache = session.workers["store"].env.CACHE
    await cache.put("k", "v")
    await session.workers["store"].env.DB.exec("CREATE TABLE t (x INTEGER)")
    assert open_databases(state) == [
        "d1/app.sqlite3",
        "kv/cache.sqlite3",
        "queues.sqlite3",
        "r2/files/objects.sqlite3",
    ]
    assert loaded_from(tmp_path) == [session.workers["store"].worker.module.__name__]

    with pytest.raises(OSError, match="the KV file vanished"):
        await session.close()
    assert open_databases(state) == ["kv/cache.sqlite3"]  # only the one whose closer raised
    assert loaded_from(tmp_path) == []
    await session.close()  # a second close does nothing
    really_close(cache)
    assert open_databases(state) == []


async def test_a_closed_session_has_no_loaded_worker(sessions: Callable[..., Awaitable[Session]]) -> None:
    session = await sessions([PROJECTS / "shop" / "wrangler.toml", PROJECTS / "auth" / "wrangler.toml"])
    assert session.loaded_worker("auth") is session.workers["auth"]
    await session.close()
    assert session.loaded_worker("auth") is None


# --- rules across workers -----------------------------------------------------------------------


async def test_two_workers_with_the_same_name_are_a_config_error(tmp_path: Path) -> None:
    first = write_worker(tmp_path / "v1", "api")
    second = write_worker(tmp_path / "v2", "api")
    with pytest.raises(ConfigError) as raised:
        await Session.open([load_config(first), load_config(second)], options())
    message = str(raised.value)
    assert str(second) in message and str(first) in message and '"api"' in message
    assert loaded_from(tmp_path) == []


async def test_two_consumers_of_one_queue_across_workers_are_a_config_error_naming_both(
    tmp_path: Path,
) -> None:
    consumer = '[[queues.consumers]]\nqueue = "jobs"\n'
    first = write_worker(tmp_path / "billing", "billing", toml=consumer)
    second = write_worker(tmp_path / "reports", "reports", toml=consumer)
    with pytest.raises(ConfigError) as raised:
        await Session.open([load_config(first), load_config(second)], options())
    message = str(raised.value)
    assert '"jobs"' in message
    assert str(first) in message and str(second) in message
    assert loaded_from(tmp_path) == []


async def test_a_session_needs_a_worker() -> None:
    with pytest.raises(ConfigError, match="no worker to load"):
        await Session.open([], options())


async def test_the_first_config_is_the_primary(sessions: Callable[..., Awaitable[Session]]) -> None:
    session = await sessions([PROJECTS / "mailer" / "wrangler.toml", PROJECTS / "shop" / "wrangler.toml"])
    assert list(session.workers) == ["mailer", "shop"]
    assert session.primary is session.workers["mailer"]


# --- env of each worker -------------------------------------------------------------------------


async def test_vars_and_dev_vars_are_each_workers_own_and_extra_vars_reach_all(
    tmp_path: Path, sessions: Callable[..., Awaitable[Session]]
) -> None:
    shop = write_worker(tmp_path / "shop", "shop", "", '[vars]\nREGION = "eu"\nMODE = "shop"\n')
    auth = write_worker(tmp_path / "auth", "auth", "", '[vars]\nMODE = "auth"\n')
    (tmp_path / "shop" / ".dev.vars").write_text("API_KEY=shop-key\n")
    (tmp_path / "auth" / ".dev.vars").write_text("API_KEY=auth-key\nSIGNING=s3cret\n")
    session = await sessions([shop, auth], options(extra_vars={"DEBUG": "1", "MODE": "forced"}))
    shop_env, auth_env = session.workers["shop"].env, session.workers["auth"].env
    assert (shop_env.API_KEY, shop_env.REGION, shop_env.DEBUG, shop_env.MODE) == (
        "shop-key",
        "eu",
        "1",
        "forced",
    )
    assert (auth_env.API_KEY, auth_env.SIGNING, auth_env.DEBUG, auth_env.MODE) == (
        "auth-key",
        "s3cret",
        "1",
        "forced",
    )
    assert "REGION" not in auth_env and "SIGNING" not in shop_env


async def test_one_persist_directory_holds_the_state_of_every_worker(
    tmp_path: Path, sessions: Callable[..., Awaitable[Session]]
) -> None:
    shared = '[[kv_namespaces]]\nbinding = "SESSIONS"\nid = "sessions"\n'
    auth = write_worker(tmp_path / "auth", "auth", "", shared)
    shop = write_worker(
        tmp_path / "shop", "shop", "", shared + '[[kv_namespaces]]\nbinding = "CART"\nid = "cart"\n'
    )
    state = tmp_path / "state"
    session = await sessions([shop, auth], options(state))
    await session.workers["auth"].env.SESSIONS.put("s-1", "ada")
    assert await session.workers["shop"].env.SESSIONS.get("s-1") == "ada"
    assert sorted(p.name for p in (state / "kv").glob("*.sqlite3")) == ["cart.sqlite3", "sessions.sqlite3"]


# --- the start-up table -------------------------------------------------------------------------


async def test_the_bindings_table_lists_each_workers_bindings(
    sessions: Callable[..., Awaitable[Session]],
) -> None:
    session = await sessions([PROJECTS / "shop" / "wrangler.toml", PROJECTS / "auth" / "wrangler.toml"])
    rows = [line.split() for line in bindings_table(session).splitlines()]
    assert rows == [
        ["shop", "has", "access", "to", "the", "following", "bindings:"],
        ["Binding", "Kind", "Resource", "Mode"],
        ["env.REALM", "Environment", "Variable", '"storefront"', "local"],
        ["env.EMAILS", "Queue", "emails", "local"],
        ["env.AUTH", "Worker", "auth", "local"],
        ["env.ADMIN", "Worker", "auth#AdminApi", "local"],
        ["auth", "has", "access", "to", "the", "following", "bindings:"],
        ["Binding", "Kind", "Resource", "Mode"],
        ["env.REALM", "Environment", "Variable", '"accounts"', "local"],
        ["env.SHOP", "Worker", "shop", "local"],  # a worker loaded before it
    ]


async def test_the_bindings_table_says_where_a_service_not_loaded_here_runs(
    sessions: Callable[..., Awaitable[Session]],
) -> None:
    session = await sessions([PROJECTS / "auth" / "wrangler.toml"])
    # Not loaded here, and no other process has registered it (yet).
    assert bindings_table(session).splitlines()[-1].split() == [
        "env.SHOP",
        "Worker",
        "shop",
        "[not",
        "running]",
        "other",
        "process",
    ]


def test_a_config_built_in_code_opens_its_bindings_in_a_fresh_process(tmp_path: Path) -> None:
    """No config file was parsed, so no binding kind was looked up before the session opened."""
    import subprocess

    (tmp_path / "worker.py").write_text("async def on_fetch(request, env):\n    pass\n")
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from workerlab.bindings.kv import KVNamespace
        from workerlab.bindings.queue import QueueProducer
        from workerlab.config import WorkerConfig
        from workerlab.session import Session, SessionOptions

        async def main():
            folder = Path({str(tmp_path)!r})
            config = WorkerConfig(
                path=folder / "wrangler.toml",
                name="built",
                main=folder / "worker.py",
                bindings=(QueueProducer(binding="JOBS", queue="jobs"), KVNamespace(binding="CACHE", id="c")),
            )
            session = await Session.open([config], SessionOptions(persist_dir=folder / "state"))
            try:
                env = session.primary.env
                await env.CACHE.put("k", "v")
                await env.JOBS.send({{"n": 1}})
                print(type(env.JOBS).__name__, await env.CACHE.get("k"))
            finally:
                await session.close()

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["QueueProducerBinding", "v"]
