"""The harness with several workers (SPEC §6 and §10): ``workers=`` on the marker and on
``Worker.start``, the ``workerlab_workers`` ini option, ``worker.workers[name]``, one clock, one
set of queues and timers for all of them, and ``bindings=`` fakes."""

from __future__ import annotations

import logging
import shutil
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from workerlab.clock import FAKE_CLOCK_START_S
from workerlab.testing import Worker

pytest_plugins = ["pytester"]

PROJECTS = Path(__file__).parent / "projects"
SHOP = PROJECTS / "shop" / "wrangler.toml"
AUTH = PROJECTS / "auth" / "wrangler.toml"
MAILER = PROJECTS / "mailer" / "wrangler.toml"
START_MS = int(FAKE_CLOCK_START_S * 1000)
HOUR_S = 3600


@pytest.fixture
async def trio() -> AsyncIterator[Worker]:
    """The shop (primary), auth and mailer workers of tests/projects."""
    worker = await Worker.start(SHOP, workers=[AUTH, MAILER])
    yield worker
    assert await worker.close() == []


# --- worker.workers -----------------------------------------------------------------------------


async def test_workers_holds_every_loaded_worker_as_the_same_kind_of_object(trio: Worker) -> None:
    assert list(trio.workers) == ["shop", "auth", "mailer"]
    assert trio.workers["shop"] is trio
    for name, handle in trio.workers.items():
        assert isinstance(handle, Worker)
        assert Path(handle.module.__file__) == PROJECTS / name / "worker.py"
        assert (name, handle.env.REALM) in {
            ("shop", "storefront"),
            ("auth", "accounts"),
            ("mailer", "outbound"),
        }
        assert handle.clock is trio.clock
        assert handle.session is trio.session
    assert trio.workers["auth"].env is not trio.env


async def test_each_worker_handle_drives_that_workers_handlers(trio: Worker) -> None:
    auth, mailer = trio.workers["auth"], trio.workers["mailer"]
    response = await auth.fetch("/account/me", headers={"authorization": "Bearer t-ada"})
    assert (await response.json())["worker"] == "auth"

    result = await mailer.queue("emails", [{"to": "bob@example.com", "subject": "Hi"}])
    assert (result.outcome, len(result.explicit_acks), result.error) == ("ok", 1, None)
    assert mailer.module.SENT == [{"from": "shop@example.com", "to": "bob@example.com", "subject": "Hi"}]

    scheduled = await mailer.scheduled("0 * * * *")
    assert scheduled.outcome == "ok"
    assert (mailer.module.DIGESTS, trio.module.CRONS) == (["0 * * * *"], [])
    assert auth.module.CALLS == ["fetch"]


async def test_advance_fires_the_crons_of_every_worker_in_time_order(
    trio: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    await trio.advance(HOUR_S)
    assert trio.module.CRONS == ["*/30 * * * *", "*/30 * * * *"]
    assert trio.workers["mailer"].module.DIGESTS == ["0 * * * *"]
    # The shop's cron queues a report; the mailer's consumer gets it within the same advance().
    assert [m["subject"] for m in trio.workers["mailer"].module.SENT] == ["report */30 * * * *"] * 2
    crons = [r.getMessage().split('"')[1] for r in caplog.records if r.getMessage().startswith("SCHEDULED")]
    assert crons[0] == "*/30 * * * *"  # 00:30 comes before the two crons due at 01:00
    assert sorted(crons[1:]) == ["*/30 * * * *", "0 * * * *"]
    assert trio.clock.now_ms() == START_MS + HOUR_S * 1000


async def test_drain_delivers_for_every_worker_whichever_handle_calls_it(trio: Worker) -> None:
    for item in ("tea", "cups", "saucers"):
        await trio.fetch("/orders", method="POST", json={"email": "ada@example.com", "item": item})
    mailer = trio.workers["mailer"]
    assert [m.body["subject"] for m in mailer.queues["emails"].pending] == [
        "Your order: tea",
        "Your order: cups",
        "Your order: saucers",
    ]
    await mailer.drain()
    assert len(mailer.module.SENT) == 3
    assert [m.attempts for m in mailer.queues["emails"].deliveries] == [1, 1, 1]
    assert trio.queues["emails"].pending == []
    assert trio.module.CRONS == []  # drain never fires crons


class _Obj(dict[str, Any]):
    """A dict with attribute access, as RPC results are."""

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __init__(self, **values: Any) -> None:
        super().__init__(values)


async def test_bindings_replaces_an_env_value_with_a_fake() -> None:
    class FakeAuth:
        def __init__(self) -> None:
            self.tokens: list[str] = []

        async def verify(self, token: str) -> Any:
            self.tokens.append(token)
            return _Obj(ok=True, user=_Obj(name="fake-user", roles=["tester"]))

    fake = FakeAuth()
    worker = await Worker.start(SHOP, bindings={"AUTH": fake})
    try:
        assert worker.env.AUTH is fake
        response = await worker.fetch("/login", headers={"authorization": "Bearer anything"})
        assert await response.json() == {"ok": True, "name": "fake-user", "roles": ["tester"]}
        assert fake.tokens == ["anything"]
    finally:
        assert await worker.close() == []


async def test_wait_until_work_of_another_worker_is_reported_at_close(tmp_path: Path) -> None:
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "worker.py").write_text(
        textwrap.dedent(
            """
            from workers import WorkerEntrypoint

            class Default(WorkerEntrypoint):
                async def record(self, event):
                    async def store():
                        raise RuntimeError(f"audit store is down ({event})")

                    self.ctx.waitUntil(store())
                    return "accepted"
            """
        )
    )
    (tmp_path / "audit" / "wrangler.toml").write_text('name = "audit"\nmain = "worker.py"\n')
    (tmp_path / "front").mkdir()
    (tmp_path / "front" / "worker.py").write_text("")
    (tmp_path / "front" / "wrangler.toml").write_text(
        'name = "front"\nmain = "worker.py"\n[[services]]\nbinding = "AUDIT"\nservice = "audit"\n'
    )
    worker = await Worker.start(
        tmp_path / "front" / "wrangler.toml", workers=[tmp_path / "audit" / "wrangler.toml"]
    )
    assert await worker.env.AUDIT.record("login") == "accepted"
    failures = await worker.close()
    assert [str(f) for f in failures] == ["audit store is down (login)"]


async def test_two_workers_bound_to_the_same_kv_namespace_share_it_in_memory(tmp_path: Path) -> None:
    configs = []
    for name in ("login", "api"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "worker.py").write_text("")
        (tmp_path / name / "wrangler.toml").write_text(
            f'name = "{name}"\nmain = "worker.py"\n[[kv_namespaces]]\nbinding = "SESSIONS"\nid = "sessions"\n'
            '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "accounts"\n'
        )
        configs.append(tmp_path / name / "wrangler.toml")
    worker = await Worker.start(configs[0], workers=configs[1:])
    try:
        await worker.env.SESSIONS.put("s-1", "ada")
        await worker.env.DB.exec("CREATE TABLE users (name TEXT)")
        api = worker.workers["api"]
        assert await api.env.SESSIONS.get("s-1") == "ada"
        assert (await api.env.DB.prepare("SELECT count(*) AS n FROM users").first("n")) == 0
    finally:
        await worker.close()


# --- the pytest plugin: marker and ini option ---------------------------------------------------

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
workerlab_config = "shop/wrangler.toml"
{extra}
"""

USER_TESTS = """
    async def test_the_shop_reaches_auth_and_mailer(worker):
        assert list(worker.workers) == ["shop", "auth", "mailer"]
        response = await worker.fetch("/login", headers={"authorization": "Bearer t-ada"})
        assert (await response.json())["name"] == "ada"
        await worker.fetch("/orders", method="POST", json={"email": "ada@example.com", "item": "tea"})
        await worker.drain()
        assert [m["to"] for m in worker.workers["mailer"].module.SENT] == ["ada@example.com"]


    async def test_each_test_gets_fresh_workers(worker):
        assert worker.workers["mailer"].module.SENT == []
        assert worker.workers["auth"].module.CALLS == []
"""


def make_project(pytester: pytest.Pytester, tests: str, *, pyproject: str = "", ini_file: str = "") -> None:
    """A user's repository: the three workers side by side, their tests under tests/."""
    for name in ("shop", "auth", "mailer"):
        shutil.copytree(PROJECTS / name, pytester.path / name, ignore=shutil.ignore_patterns("__pycache__"))
    if ini_file:
        (pytester.path / "pytest.ini").write_text(textwrap.dedent(ini_file))
    else:
        (pytester.path / "pyproject.toml").write_text(PYPROJECT.format(extra=textwrap.dedent(pyproject)))
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_user.py").write_text(textwrap.dedent(tests))


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "tests")


def test_the_marker_loads_more_workers_relative_to_the_rootdir(pytester: pytest.Pytester) -> None:
    marker = 'pytestmark = pytest.mark.workerlab(workers=["auth/wrangler.toml", "mailer/wrangler.toml"])\n'
    make_project(pytester, "import pytest\n\n" + marker + textwrap.dedent(USER_TESTS))
    run(pytester).assert_outcomes(passed=2)


def test_the_workerlab_workers_ini_option_takes_one_path_per_line(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        USER_TESTS,
        ini_file="""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        workerlab_config = shop/wrangler.toml
        workerlab_workers =
            auth/wrangler.toml
            mailer/wrangler.toml
        """,
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_workerlab_workers_ini_option_in_pyproject(pytester: pytest.Pytester) -> None:
    make_project(
        pytester, USER_TESTS, pyproject='workerlab_workers = ["auth/wrangler.toml", "mailer/wrangler.toml"]'
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_marker_overrides_the_ini_option_and_takes_bindings(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        import pytest


        class AlwaysYes:
            async def verify(self, token):
                return type("User", (), {"ok": True, "user": type("U", (), {"name": token, "roles": []})})


        @pytest.mark.workerlab(workers=[], bindings={"AUTH": AlwaysYes()})
        async def test_alone_with_a_fake_auth(worker):
            assert list(worker.workers) == ["shop"]
            response = await worker.fetch("/login", headers={"authorization": "Bearer t-zed"})
            assert (await response.json())["name"] == "t-zed"


        async def test_from_the_ini_option(worker):
            assert list(worker.workers) == ["shop", "auth"]
        """,
        pyproject='workerlab_workers = ["auth/wrangler.toml"]',
    )
    run(pytester).assert_outcomes(passed=2)


def test_a_workers_path_that_does_not_exist_fails_the_test_clearly(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        import pytest


        @pytest.mark.workerlab(workers=["billing/wrangler.toml"])
        async def test_billing(worker):
            pass
        """,
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*workerlab could not load the worker*billing*wrangler.toml*"])
