"""The pytest plugin on small user projects, run with ``pytester`` (SPEC §6)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "{mode}"
asyncio_default_fixture_loop_scope = "function"
filterwarnings = ["error"]
{extra}
"""

WRANGLER = """
name = "shop"
main = "{main}"

[vars]
GREETING = "hello"
"""

QUEUES = """
[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
max_retries = 2
dead_letter_queue = "jobs-dlq"

[[queues.consumers]]
queue = "jobs-dlq"
max_batch_timeout = 0
"""


def make_project(
    pytester: pytest.Pytester,
    worker: str,
    tests: str,
    *,
    toml: str = "",
    main: str = "worker.py",
    mode: str = "auto",
    ini: str = "",
) -> None:
    """A user project: pyproject.toml, wrangler.toml, the worker module and one test file."""
    (pytester.path / "pyproject.toml").write_text(PYPROJECT.format(mode=mode, extra=ini))
    (pytester.path / "wrangler.toml").write_text(WRANGLER.format(main=main) + textwrap.dedent(toml))
    module = pytester.path / main
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(textwrap.dedent(worker))
    pytester.makepyfile(test_user=textwrap.dedent(tests))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process on the project (without hypothesis' plugin, which only costs time here)."""
    return pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:cacheprovider", *args)


# --- the three handler styles -------------------------------------------------------------------

STYLES = {
    "entrypoint class": """
        from workers import Response, WorkerEntrypoint

        SEEN = []

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                await self.env.JOBS.send({"path": request.url})
                return Response(self.env.GREETING)

            async def queue(self, batch, env, ctx):
                SEEN.extend(("queue", m.body, m.attempts) for m in batch.messages)

            async def scheduled(self, controller, env, ctx):
                SEEN.append(("cron", controller.cron, controller.scheduledTime))
    """,
    "module functions": """
        from workers import Response

        SEEN = []

        async def fetch(request, env):
            await env.JOBS.send({"path": request.url})
            return Response(env.GREETING)

        def queue(batch, env, ctx):
            SEEN.extend(("queue", m.body, m.attempts) for m in batch.messages)

        async def scheduled(controller, env, ctx):
            SEEN.append(("cron", controller.cron, controller.scheduledTime))
    """,
    "legacy on_ names": """
        from workers import Response

        SEEN = []

        async def on_fetch(request, env, ctx):
            await env.JOBS.send({"path": request.url})
            return Response(env.GREETING)

        async def on_queue(batch, env, ctx):
            SEEN.extend(("queue", m.body, m.attempts) for m in batch.messages)

        def on_scheduled(controller, env, ctx):
            SEEN.append(("cron", controller.cron, controller.scheduledTime))
    """,
}

EVERY_EVENT_TESTS = """
    from datetime import datetime, timezone

    START_MS = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


    def seen(worker):
        return worker.runtime.worker.module.SEEN


    async def test_fetch_sends_and_drain_delivers(worker):
        response = await worker.fetch("/orders")
        assert (response.status, await response.text()) == (200, "hello")
        assert [m.body for m in worker.queues["jobs"].pending] == [{"path": "http://localhost/orders"}]
        await worker.drain()
        assert seen(worker) == [("queue", {"path": "http://localhost/orders"}, 1)]
        assert [m.body for m in worker.queues["jobs"].acked] == [{"path": "http://localhost/orders"}]


    async def test_queue_dispatches_one_batch(worker):
        result = await worker.queue("jobs", ["a", "b"])
        assert (result.outcome, result.ack_all, result.explicit_acks) == ("ok", False, [])
        assert seen(worker) == [("queue", "a", 1), ("queue", "b", 1)]


    async def test_scheduled_and_advance(worker):
        result = await worker.scheduled(cron="*/10 * * * *")
        assert (result.outcome, result.no_retry, result.error) == ("ok", False, None)
        await worker.advance(20 * 60)
        assert seen(worker) == [
            ("cron", "*/10 * * * *", START_MS),
            ("cron", "*/10 * * * *", START_MS + 10 * 60_000),
            ("cron", "*/10 * * * *", START_MS + 20 * 60_000),
        ]
"""


@pytest.mark.parametrize("style", list(STYLES))
def test_every_handler_style_runs_through_the_fixture(pytester: pytest.Pytester, style: str) -> None:
    make_project(
        pytester, STYLES[style], EVERY_EVENT_TESTS, toml=QUEUES + '[triggers]\ncrons = ["*/10 * * * *"]\n'
    )
    run(pytester).assert_outcomes(passed=3)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio_strict_and_auto_mode(pytester: pytest.Pytester, mode: str) -> None:
    marker = "pytestmark = pytest.mark.asyncio\n" if mode == "strict" else ""
    make_project(
        pytester,
        STYLES["entrypoint class"],
        f"import pytest\n{marker}\n" + textwrap.dedent(EVERY_EVENT_TESTS),
        toml=QUEUES + '[triggers]\ncrons = ["*/10 * * * *"]\n',
        mode=mode,
    )
    run(pytester).assert_outcomes(passed=3)


# --- queues and time ----------------------------------------------------------------------------

FLAKY_CONSUMER = """
    SEEN = []

    async def queue(batch, env, ctx):
        for message in batch.messages:
            SEEN.append((batch.queue, message.body, message.attempts))
            if batch.queue == "jobs" and message.body == "poison":
                raise RuntimeError("cannot process poison")
"""


def test_drain_goes_through_the_retries_to_the_dead_letter_queue(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        FLAKY_CONSUMER,
        """
        async def test_poison_is_dead_lettered(worker):
            await worker.env.JOBS.send("poison")
            await worker.drain()
            assert worker.runtime.worker.module.SEEN == [
                ("jobs", "poison", 1),
                ("jobs", "poison", 2),
                ("jobs", "poison", 3),
                ("jobs-dlq", "poison", 1),
            ]
            jobs = worker.queues["jobs"]
            assert [(m.body, m.attempts) for m in jobs.dead_lettered] == [("poison", 3)]
            assert [m.attempts for m in jobs.deliveries] == [1, 2, 3]
            assert jobs.pending == [] and jobs.acked == []
            assert [m.body for m in worker.queues["jobs-dlq"].acked] == ["poison"]
        """,
        toml=QUEUES,
    )
    run(pytester).assert_outcomes(passed=1)


def test_advance_fires_an_hourly_cron_once_per_hour_crossed(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        FIRED = []

        def scheduled(controller):
            FIRED.append(controller.scheduledTime)
        """,
        """
        HOUR_S, HOUR_MS = 3600, 3_600_000


        async def test_hourly(worker):
            fired = worker.runtime.worker.module.FIRED
            start_ms = worker.clock.now_ms()
            await worker.advance(HOUR_S - 1)
            assert fired == []
            await worker.advance(1)
            assert fired == [start_ms + HOUR_MS]
            await worker.advance(HOUR_S - 1)
            assert len(fired) == 1
            await worker.advance(3 * HOUR_S)
            assert fired == [start_ms + n * HOUR_MS for n in (1, 2, 3, 4)]
        """,
        toml='[triggers]\ncrons = ["0 * * * *"]\n',
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_delayed_message_is_delivered_only_after_its_delay(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        FLAKY_CONSUMER,
        """
        async def test_delayed(worker):
            await worker.env.JOBS.send("later", delaySeconds=120)
            await worker.advance(119)
            assert worker.runtime.worker.module.SEEN == []
            assert [m.body for m in worker.queues["jobs"].pending] == ["later"]
            await worker.advance(1)
            assert worker.runtime.worker.module.SEEN == [("jobs", "later", 1)]
        """,
        toml=QUEUES,
    )
    run(pytester).assert_outcomes(passed=1)


# --- configuration ------------------------------------------------------------------------------

ENV_ECHO = """
    from workers import Response

    def fetch(request, env):
        return Response.json({name: env[name] for name in ("WHO", "GREETING") if name in env})
"""


def test_the_config_is_found_in_the_rootdir(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ENV_ECHO,
        """
        async def test_found(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "hello"}
        """,
        main="src/worker.py",
    )
    run(pytester).assert_outcomes(passed=1)


def test_the_workerlab_config_ini_option_names_the_config(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ENV_ECHO,
        """
        async def test_from_ini(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "from the ini config"}
        """,
        ini='workerlab_config = "deploy/wrangler.toml"',
    )
    (pytester.path / "deploy").mkdir()
    (pytester.path / "deploy" / "wrangler.toml").write_text(
        'name = "other"\nmain = "../worker.py"\n[vars]\nGREETING = "from the ini config"\n'
    )
    run(pytester).assert_outcomes(passed=1)


def test_dev_vars_then_marker_vars_override_the_config_vars(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ENV_ECHO,
        """
        import pytest

        async def test_dev_vars(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "hello", "WHO": "dev vars"}

        @pytest.mark.workerlab(vars={"WHO": "marker", "GREETING": "hey"})
        async def test_marker_vars(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "hey", "WHO": "marker"}
        """,
    )
    (pytester.path / ".dev.vars").write_text("WHO=dev vars\n")
    run(pytester).assert_outcomes(passed=2)


def test_markers_override_config_env_and_now_and_merge_from_module_to_test(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ENV_ECHO,
        """
        from datetime import datetime, timezone

        import pytest

        pytestmark = pytest.mark.workerlab(config="other/wrangler.toml", vars={"WHO": "module"})


        async def test_module_marker(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "other", "WHO": "module"}


        @pytest.mark.workerlab(env="staging", now=datetime(2030, 5, 6, 7, 8, tzinfo=timezone.utc))
        async def test_env_and_now(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "staging", "WHO": "module"}
            assert worker.clock.now_s() == datetime(2030, 5, 6, 7, 8, tzinfo=timezone.utc).timestamp()


        @pytest.mark.workerlab(now=1_800_000_000, vars={"GREETING": "test"})
        async def test_epoch_now_and_merged_vars(worker):
            assert await (await worker.fetch("/")).json() == {"GREETING": "test", "WHO": "module"}
            assert worker.clock.now_s() == 1_800_000_000


        async def test_default_start(worker):
            assert worker.clock.now_s() == datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
        """,
    )
    (pytester.path / "other").mkdir()
    (pytester.path / "other" / "wrangler.toml").write_text(
        'name = "other"\nmain = "../worker.py"\n[vars]\nGREETING = "other"\n'
        '[env.staging.vars]\nGREETING = "staging"\n'
    )
    run(pytester).assert_outcomes(passed=4)


def test_a_project_without_a_config_gets_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="async def test_it(worker):\n    pass\n")
    (pytester.path / "pyproject.toml").write_text(PYPROJECT.format(mode="auto", extra=""))
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the worker fixture needs a config:*no config file found*workerlab_config ini option*"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_broken_worker_module_fails_the_test_with_its_import_error(pytester: pytest.Pytester) -> None:
    make_project(pytester, "import not_a_module_anywhere\n", "async def test_it(worker):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*workerlab could not load the worker: importing*worker.py failed*"])
    assert "During handling of the above exception" not in result.stdout.str()


def test_a_marker_with_unknown_arguments_is_refused(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ENV_ECHO,
        """
        import pytest

        @pytest.mark.workerlab(confg="wrangler.toml")
        async def test_it(worker):
            pass
        """,
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.workerlab got unknown argument(s) ?'confg'?; "
            "expected config, env, vars, now, workers, bindings"
        ]
    )


# --- isolation ----------------------------------------------------------------------------------


def test_every_test_gets_fresh_state(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        from workers import Response

        CALLS = []

        async def fetch(request, env):
            CALLS.append(request.url)
            return Response(str(len(CALLS)))
        """,
        """
        import pytest

        @pytest.mark.parametrize("round", [1, 2])
        async def test_state_starts_empty(worker, round):
            assert worker.clock.now_s() == 1_767_225_600
            assert await worker.env.CACHE.get("key") is None
            assert (await worker.env.DB.prepare("SELECT count(*) AS n FROM notes").first())["n"] == 0
            assert await worker.env.FILES.get("file") is None
            assert worker.queues["jobs"].pending == []
            assert await (await worker.fetch("/")).text() == "1"

            await worker.env.CACHE.put("key", "value")
            await worker.env.DB.prepare("INSERT INTO notes (text) VALUES (?)").bind("note").run()
            await worker.env.FILES.put("file", b"bytes")
            await worker.env.JOBS.send("message")
            await worker.advance(3600)
        """,
        toml="""
        [[kv_namespaces]]
        binding = "CACHE"
        id = "cache"

        [[d1_databases]]
        binding = "DB"
        database_name = "notes"

        [[r2_buckets]]
        binding = "FILES"
        bucket_name = "files"

        [[queues.producers]]
        binding = "JOBS"
        queue = "jobs"
        """,
    )
    (pytester.path / "migrations").mkdir()
    (pytester.path / "migrations" / "0001_notes.sql").write_text("CREATE TABLE notes (text TEXT);\n")
    run(pytester).assert_outcomes(passed=2)


# --- failures -----------------------------------------------------------------------------------


def test_failed_wait_until_work_is_a_test_error_at_teardown(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        from workers import Response

        async def log_request():
            raise ConnectionError("log sink unreachable")

        async def fetch(request, env, ctx):
            ctx.waitUntil(log_request())
            return Response("ok")
        """,
        """
        import pytest

        async def test_unsettled(worker):
            assert (await worker.fetch("/")).status == 200

        async def test_settled(worker):
            await worker.fetch("/")
            with pytest.raises(ConnectionError):
                await worker.settle()
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unsettled*",
            "*ConnectionError: log sink unreachable",
            "*raised by the worker's ctx.waitUntil() work, which the test did not settle*",
        ]
    )


def test_a_handler_exception_shows_the_handlers_traceback(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        def parse(text):
            return int(text)  # the failing line

        class Default:
            def __init__(self, ctx, env):
                pass

            async def fetch(self, request):
                return parse("not a number")
        """,
        """
        async def test_it(worker):
            await worker.fetch("/")
        """,
    )
    result = run(pytester, "--tb=long")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*await worker.fetch("/")',
            '*return parse("not a number")',
            "*return int(text)  # the failing line",
            "E*ValueError: invalid literal for int() with base 10: 'not a number'",
            "worker.py:3: ValueError",
        ]
    )
    result.stdout.no_fnmatch_line("*workerlab/runtime.py*")
    result.stdout.no_fnmatch_line("*workerlab/loader.py*")


def test_respx_mocks_the_workers_outbound_fetch(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        """
        from workers import Response, fetch

        async def on_fetch(request, env):
            reply = await fetch("https://api.example.com/rates", headers={"accept": "application/json"})
            return Response.json({"status": reply.status, "rates": await reply.json()})
        """,
        """
        import httpx
        import respx

        @respx.mock
        async def test_rates(worker):
            route = respx.get("https://api.example.com/rates").mock(
                return_value=httpx.Response(200, json={"EUR": 1.1})
            )
            response = await worker.fetch("/")
            assert await response.json() == {"status": 200, "rates": {"EUR": 1.1}}
            assert route.calls.last.request.headers["accept"] == "application/json"
        """,
    )
    run(pytester).assert_outcomes(passed=1)


# --- staying out of the way ---------------------------------------------------------------------


def test_a_suite_that_never_asks_for_worker_loads_nothing_of_workerlab(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain(request):
            loaded = sorted(name for name in sys.modules if name.startswith("workerlab"))
            assert loaded == ["workerlab", "workerlab.pytest_plugin"]
            assert "worker" not in request.fixturenames
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_importing_the_plugin_imports_no_more_than_pytest_and_pytest_asyncio() -> None:
    probe = (
        "import json, sys, pytest, pytest_asyncio\n"
        "before = set(sys.modules)\n"
        "import workerlab.pytest_plugin\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == ["workerlab", "workerlab.pytest_plugin"]


def test_the_fixture_and_marker_are_registered_but_nothing_is_autoused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    (pytester.path / "pyproject.toml").write_text(PYPROJECT.format(mode="strict", extra=""))
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(
        ["worker -- *pytest_plugin.py*", "*The project's worker, loaded as `workerlab dev`*"]
    )
    markers = run(pytester, "--markers")
    markers.stdout.fnmatch_lines(
        ["@pytest.mark.workerlab(config=None, env=None, vars=None, now=None, workers=None, bindings=None)*"]
    )
    plain = run(pytester, "--setup-plan")
    plain.stdout.no_fnmatch_line("*SETUP*worker*")
