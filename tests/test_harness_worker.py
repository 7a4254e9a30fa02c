"""The harness API (SPEC §6) on small workers written to tmp_path: Worker.start and its methods."""

from __future__ import annotations

import logging
import textwrap
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from workerlab import limits
from workerlab.bindings import D1Error
from workerlab.clock import FAKE_CLOCK_START_S
from workerlab.errors import HandlerNotFoundError
from workerlab.testing import QueueResult, RetryBatch, RetryMessage, ScheduledResult, Worker

HOUR_S = 3600
START_MS = int(FAKE_CLOCK_START_S * 1000)

Start = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Write ``worker.py`` and ``wrangler.toml`` (with ``main`` filled in) and start the worker."""
    started: list[Worker] = []

    async def start(code: str, toml: str = "", **options: Any) -> Worker:
        (tmp_path / "worker.py").write_text(textwrap.dedent(code))
        config = 'name = "w"\nmain = "worker.py"\n' + textwrap.dedent(toml)
        (tmp_path / "wrangler.toml").write_text(config)
        worker = await Worker.start(tmp_path / "wrangler.toml", **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        assert await worker.close() == []


def seen(worker: Worker) -> list[Any]:
    """The worker module's ``SEEN`` list, where the handlers below record what they saw."""
    return worker.module.SEEN


QUEUE = """
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
max_retries = 2
dead_letter_queue = "jobs-dlq"
"""

# --- fetch --------------------------------------------------------------------------------------

ECHO = """
from workers import Response

async def fetch(request, env, ctx):
    return Response.json({
        "url": request.url,
        "method": request.method,
        "type": request.headers.get("content-type"),
        "auth": request.headers.get("authorization"),
        "body": await request.text(),
    })
"""


async def test_fetch_resolves_a_path_against_localhost(start: Start) -> None:
    worker = await start(ECHO)
    response = await worker.fetch("items/1?x=2")
    assert response.status == 200
    assert (await response.json())["url"] == "http://localhost/items/1?x=2"


async def test_module_is_the_freshly_loaded_worker_module(start: Start, tmp_path: Path) -> None:
    first = await start(DECIDER, QUEUE)
    await first.queue("jobs", ["ack"])
    second = await start(DECIDER, QUEUE)
    assert first.module is not second.module
    assert (first.module.__file__, second.module.__file__) == (str(tmp_path / "worker.py"),) * 2
    assert (first.module.SEEN, second.module.SEEN) == ([[("ack", 1)]], [])


async def test_fetch_sends_json_with_its_content_type_and_keeps_other_headers(start: Start) -> None:
    worker = await start(ECHO)
    response = await worker.fetch(
        "https://api.example.com/x", method="post", headers={"Authorization": "Bearer t"}, json={"a": [1]}
    )
    assert await response.json() == {
        "url": "https://api.example.com/x",
        "method": "POST",
        "type": "application/json",
        "auth": "Bearer t",
        "body": '{"a": [1]}',
    }


async def test_fetch_with_both_body_and_json_is_refused(start: Start) -> None:
    worker = await start(ECHO)
    with pytest.raises(TypeError, match="body= or json="):
        await worker.fetch("/", method="POST", body="x", json={})


async def test_a_starlette_response_comes_back_as_a_workers_response(start: Start) -> None:
    worker = await start(
        """
        from starlette.responses import PlainTextResponse

        def fetch(request):
            return PlainTextResponse("made by starlette", status_code=201, headers={"x-kind": "s"})
        """
    )
    response = await worker.fetch("/")
    assert (response.status, response.headers.get("x-kind")) == (201, "s")
    assert await response.text() == "made by starlette"


async def test_a_handler_that_returns_no_response_is_a_type_error_naming_the_module(start: Start) -> None:
    worker = await start("def fetch(request):\n    return {'not': 'a response'}\n")
    with pytest.raises(TypeError, match=r"worker\.py returned dict; expected a workers\.Response"):
        await worker.fetch("/")


@pytest.mark.parametrize("kind", ["async def", "def"])
async def test_a_fetch_exception_is_raised_with_the_handlers_own_traceback(start: Start, kind: str) -> None:
    worker = await start(
        f"""
        def check(value):
            raise ValueError(f"bad value {{value}}")

        {kind} fetch(request, env, ctx):
            check(42)
        """
    )
    with pytest.raises(ValueError, match="bad value 42") as raised:
        await worker.fetch("/")
    frames = traceback.extract_tb(raised.value.__traceback__)
    user_frames = [(Path(f.filename).name, f.name) for f in frames if Path(f.filename).name == "worker.py"]
    assert user_frames == [("worker.py", "fetch"), ("worker.py", "check")]
    assert [f.filename for f in frames if "/workerlab/" in f.filename or "/asyncio/" in f.filename] == []


async def test_fetch_returns_before_its_wait_until_work_which_settle_waits_for(start: Start) -> None:
    worker = await start(
        """
        import asyncio
        from workers import Response
        SEEN = []

        async def later():
            await asyncio.sleep(0)
            SEEN.append("background done")

        async def fetch(request, env, ctx):
            ctx.waitUntil(later())
            return Response("sent")
        """
    )
    await worker.fetch("/")
    assert seen(worker) == []
    await worker.settle()
    assert seen(worker) == ["background done"]


async def test_settle_raises_the_first_wait_until_failure_and_then_forgets_it(start: Start) -> None:
    worker = await start(
        """
        from workers import Response

        async def broken():
            raise LookupError("background failed")

        async def fetch(request, env, ctx):
            ctx.waitUntil(broken())
            return Response("ok")
        """
    )
    response = await worker.fetch("/")
    assert response.status == 200
    with pytest.raises(LookupError, match="background failed"):
        await worker.settle()
    await worker.settle()


async def test_close_hands_back_wait_until_failures_nobody_settled(start: Start, tmp_path: Path) -> None:
    worker = await start(
        """
        from workers import Response

        async def broken():
            raise LookupError("never settled")

        async def fetch(request, env, ctx):
            ctx.waitUntil(broken())
            return Response("ok")
        """
    )
    await worker.fetch("/")
    failures = await worker.close()
    assert [str(f) for f in failures] == ["never settled"]
    assert await worker.close() == []


# --- queue --------------------------------------------------------------------------------------

DECIDER = """
SEEN = []

def queue(batch, env, ctx):
    SEEN.append([(m.body, m.attempts) for m in batch.messages])
    for message in batch.messages:
        if message.body == "ack":
            message.ack()
        elif message.body == "retry":
            message.retry(delaySeconds=30)
        elif message.body == "retry-plain":
            message.retry()
        elif message.body == "all":
            batch.ackAll()
        elif message.body == "retry-all":
            batch.retryAll(delaySeconds=5)
        elif message.body == "boom":
            raise RuntimeError("handler failed")
"""


async def test_queue_reports_the_handlers_decisions(start: Start) -> None:
    worker = await start(DECIDER, QUEUE)
    messages = [
        {"id": "a" * 32, "timestamp": START_MS, "attempts": 1, "body": "ack"},
        {"id": "b" * 32, "timestamp": START_MS, "attempts": 2, "body": "retry"},
        {"id": "c" * 32, "timestamp": START_MS, "attempts": 1, "body": "retry-plain"},
        {"id": "d" * 32, "timestamp": START_MS, "attempts": 1, "body": "all"},
    ]
    result = await worker.queue("jobs", messages)
    assert result == QueueResult(
        outcome="ok",
        ack_all=True,
        retry_batch=RetryBatch(retry=False),
        explicit_acks=["a" * 32],
        retry_messages=[RetryMessage("b" * 32, 30), RetryMessage("c" * 32, None)],
        error=None,
    )
    assert seen(worker) == [[("ack", 1), ("retry", 2), ("retry-plain", 1), ("all", 1)]]


async def test_queue_takes_plain_bodies_and_generates_ids_attempts_and_timestamps(start: Start) -> None:
    worker = await start(
        """
        SEEN = []

        async def queue(batch):
            SEEN.extend((batch.queue, m.id, m.body, m.attempts, m.timestamp) for m in batch.messages)
        """,
        QUEUE,
    )
    # A dict that is not exactly {id, timestamp, attempts, body} is a body like any other.
    result = await worker.queue("jobs", ["first", {"body": "a dict body"}])
    assert result.outcome == "ok"
    start_time = datetime.fromtimestamp(FAKE_CLOCK_START_S, UTC)
    [(q1, id1, body1, n1, t1), (q2, id2, body2, n2, t2)] = seen(worker)
    assert (q1, body1, n1, t1) == ("jobs", "first", 1, start_time)
    assert (q2, body2, n2, t2) == ("jobs", {"body": "a dict body"}, 1, start_time)
    assert len({id1, id2}) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in (id1, id2))


async def test_a_raising_queue_handler_is_an_exception_outcome_not_an_error(start: Start) -> None:
    worker = await start(DECIDER, QUEUE)
    result = await worker.queue("jobs", ["retry-all", "boom"])
    assert result.outcome == "exception"
    assert isinstance(result.error, RuntimeError) and str(result.error) == "handler failed"
    assert result.retry_batch == RetryBatch(retry=True, delay_seconds=5)


async def test_queue_waits_for_wait_until_work_and_its_failure_is_the_outcome(start: Start) -> None:
    worker = await start(
        """
        import asyncio
        SEEN = []

        async def work(body):
            await asyncio.sleep(0)
            SEEN.append(body)
            if body == "fail":
                raise OSError("background write failed")

        async def queue(batch, env, ctx):
            for message in batch.messages:
                ctx.waitUntil(work(message.body))
        """,
        QUEUE,
    )
    assert (await worker.queue("jobs", ["ok"])).outcome == "ok"
    assert seen(worker) == ["ok"]
    result = await worker.queue("jobs", ["fail"])
    assert (result.outcome, str(result.error)) == ("exception", "background write failed")


async def test_queue_without_a_queue_handler_raises_naming_what_it_looked_for(start: Start) -> None:
    worker = await start(ECHO, QUEUE)
    with pytest.raises(HandlerNotFoundError, match="has no queue handler"):
        await worker.queue("jobs", ["x"])


async def test_queue_refuses_a_single_body_in_place_of_a_list(start: Start) -> None:
    worker = await start(DECIDER, QUEUE)
    with pytest.raises(TypeError, match="takes a list of messages, got str"):
        await worker.queue("jobs", "ack")


async def test_queue_on_a_queue_nobody_consumes_warns(start: Start, caplog: pytest.LogCaptureFixture) -> None:
    worker = await start(DECIDER, QUEUE)
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        result = await worker.queue("jbos", ["ack"])
    assert result.explicit_acks and result.outcome == "ok"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f'worker.queue(): no consumer of queue "jbos" in {worker.runtime.config.path} (consumed queues: jobs)'
    ]


# --- scheduled ----------------------------------------------------------------------------------

SCHEDULED = """
SEEN = []

class Default:
    def __init__(self, ctx, env):
        self.env = env

    async def scheduled(self, controller, env, ctx):
        SEEN.append((controller.cron, controller.scheduledTime, controller.type))
        if controller.cron == "no-retry":
            controller.noRetry()
        if controller.cron == "boom":
            raise RuntimeError("cron failed")
"""


async def test_scheduled_defaults_to_the_fake_clocks_now(start: Start) -> None:
    worker = await start(SCHEDULED)
    result = await worker.scheduled()
    assert result == ScheduledResult(outcome="ok", no_retry=False, error=None)
    assert seen(worker) == [("", START_MS, "scheduled")]


async def test_scheduled_takes_a_cron_and_a_time_in_ms_or_as_a_datetime(start: Start) -> None:
    worker = await start(SCHEDULED)
    await worker.scheduled("*/5 * * * *", 1_700_000_000_000)
    await worker.scheduled(cron="0 * * * *", scheduled_time=datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert seen(worker) == [
        ("*/5 * * * *", 1_700_000_000_000, "scheduled"),
        ("0 * * * *", int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp() * 1000), "scheduled"),
    ]


async def test_scheduled_reports_no_retry_and_exceptions_as_its_result(start: Start) -> None:
    worker = await start(SCHEDULED)
    assert (await worker.scheduled("no-retry")).no_retry is True
    failed = await worker.scheduled("boom")
    assert (failed.outcome, str(failed.error), failed.no_retry) == ("exception", "cron failed", False)


async def test_scheduled_without_a_scheduled_handler_raises(start: Start) -> None:
    worker = await start(ECHO)
    with pytest.raises(HandlerNotFoundError, match="has no scheduled handler"):
        await worker.scheduled()


# --- the clock ----------------------------------------------------------------------------------


async def test_the_clock_starts_at_2026_and_moves_only_when_told(start: Start) -> None:
    worker = await start(ECHO)
    assert worker.clock.now_s() == FAKE_CLOCK_START_S == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    await worker.fetch("/")
    assert worker.clock.now_s() == FAKE_CLOCK_START_S
    await worker.advance(90)
    assert worker.clock.now_s() == FAKE_CLOCK_START_S + 90


@pytest.mark.parametrize(
    "now", [datetime(2030, 6, 1, 8, 30, tzinfo=UTC), datetime(2030, 6, 1, 8, 30), 1_906_533_000]
)
async def test_now_moves_the_clocks_start(start: Start, now: datetime | float) -> None:
    worker = await start(ECHO, now=now)
    assert worker.clock.now_s() == datetime(2030, 6, 1, 8, 30, tzinfo=UTC).timestamp()


async def test_now_of_another_type_is_refused(start: Start) -> None:
    with pytest.raises(TypeError, match="now must be a datetime or epoch seconds, got str"):
        await start(ECHO, now="2030-01-01")


async def test_advance_refuses_to_go_back(start: Start) -> None:
    worker = await start(ECHO)
    with pytest.raises(ValueError, match="seconds >= 0, got -1"):
        await worker.advance(-1)


async def test_kv_expiry_follows_the_fake_clock(start: Start) -> None:
    worker = await start(ECHO, '[[kv_namespaces]]\nbinding = "CACHE"\n')
    await worker.env.CACHE.put("k", "v", expirationTtl=limits.KV_MIN_EXPIRATION_TTL_S)
    await worker.advance(limits.KV_MIN_EXPIRATION_TTL_S - 1)
    assert await worker.env.CACHE.get("k") == "v"
    await worker.advance(1)
    assert await worker.env.CACHE.get("k") is None


# --- drain and the queue views ------------------------------------------------------------------

PRODUCER = """
from workers import Response
SEEN = []

async def fetch(request, env, ctx):
    body = await request.json()
    ctx.waitUntil(env.JOBS.send(body["body"], delaySeconds=body.get("delay")))
    return Response("queued", status=202)

async def queue(batch, env, ctx):
    SEEN.extend((batch.queue, m.body, m.attempts) for m in batch.messages)
    for message in batch.messages:
        if message.body.startswith("fail") and batch.queue == "jobs":
            message.retry()
        else:
            message.ack()
"""


async def test_drain_retries_and_dead_letters_with_the_real_rules(start: Start) -> None:
    worker = await start(
        PRODUCER, QUEUE + '[[queues.consumers]]\nqueue = "jobs-dlq"\nmax_batch_timeout = 0\n'
    )
    await worker.env.JOBS.send("fail me")
    await worker.env.JOBS.send("fine")
    await worker.drain()
    assert seen(worker) == [
        ("jobs", "fail me", 1),
        ("jobs", "fine", 1),
        ("jobs", "fail me", 2),
        ("jobs", "fail me", 3),
        ("jobs-dlq", "fail me", 1),
    ]
    jobs, dlq = worker.queues["jobs"], worker.queues["jobs-dlq"]
    assert jobs.pending == [] and dlq.pending == []
    assert [m.body for m in jobs.acked] == ["fine"]
    assert [(m.body, m.attempts) for m in jobs.dead_lettered] == [("fail me", 3)]
    assert [(m.body, m.attempts) for m in jobs.deliveries] == [
        ("fail me", 1),
        ("fine", 1),
        ("fail me", 2),
        ("fail me", 3),
    ]
    assert [(m.body, m.attempts) for m in dlq.acked] == [("fail me", 1)]
    assert jobs.dead_lettered[0].id == dlq.acked[0].id


async def test_drain_drops_after_the_retries_without_a_dead_letter_queue(start: Start) -> None:
    worker = await start(PRODUCER, QUEUE.replace('dead_letter_queue = "jobs-dlq"\n', ""))
    await worker.env.JOBS.send("fail forever")
    await worker.drain()
    jobs = worker.queues["jobs"]
    assert [(m.body, m.attempts) for m in jobs.dropped] == [("fail forever", 3)]
    assert jobs.pending == [] and jobs.dead_lettered == []


async def test_drain_delivers_what_fetch_sent_through_wait_until(start: Start) -> None:
    worker = await start(PRODUCER, QUEUE)
    response = await worker.fetch("/", method="POST", json={"body": "from fetch"})
    assert response.status == 202
    await worker.drain()
    assert seen(worker) == [("jobs", "from fetch", 1)]


async def test_drain_jumps_the_clock_to_a_delayed_message_and_crons_stay_quiet(start: Start) -> None:
    worker = await start(
        PRODUCER + SCHEDULED.replace("SEEN = []", ""), QUEUE + '[triggers]\ncrons = ["0 * * * *"]\n'
    )
    await worker.env.JOBS.send("later", delaySeconds=2 * HOUR_S)
    assert [m.body for m in worker.queues["jobs"].pending] == ["later"]
    await worker.drain()
    assert seen(worker) == [("jobs", "later", 1)]
    assert worker.clock.now_s() == FAKE_CLOCK_START_S + 2 * HOUR_S
    # The hourly runs the drain jumped over were missed, not late: the next one fires on time.
    await worker.advance(HOUR_S)
    assert [entry for entry in seen(worker) if entry[0] == "0 * * * *"] == [
        ("0 * * * *", START_MS + 3 * HOUR_S * 1000, "scheduled")
    ]


async def test_drain_waits_for_the_batch_timeout(start: Start) -> None:
    worker = await start(PRODUCER, QUEUE.replace("max_batch_timeout = 0", "max_batch_timeout = 5"))
    await worker.env.JOBS.send("a")
    await worker.env.JOBS.send("b")
    await worker.drain()
    assert seen(worker) == [("jobs", "a", 1), ("jobs", "b", 1)]
    assert worker.clock.now_s() == FAKE_CLOCK_START_S + 5


async def test_queues_lists_every_configured_queue_and_names_them_for_a_typo(start: Start) -> None:
    worker = await start(PRODUCER, QUEUE)
    assert sorted(worker.queues) == ["jobs", "jobs-dlq"]
    with pytest.raises(
        KeyError, match=r"no queue named 'job' in .*wrangler\.toml \(its queues: jobs, jobs-dlq\)"
    ):
        worker.queues["job"]


# --- advance ------------------------------------------------------------------------------------


async def test_advance_fires_an_hourly_cron_once_per_hour_crossed(start: Start) -> None:
    worker = await start(SCHEDULED, '[triggers]\ncrons = ["0 * * * *"]\n')
    await worker.advance(HOUR_S - 1)
    assert seen(worker) == []
    await worker.advance(1)
    await worker.advance(HOUR_S / 2)
    await worker.advance(HOUR_S / 2)
    await worker.advance(3 * HOUR_S + 1)
    assert [time_ms for _, time_ms, _ in seen(worker)] == [
        START_MS + h * HOUR_S * 1000 for h in (1, 2, 3, 4, 5)
    ]


async def test_advance_fires_crons_due_together_once_each_in_time_order(start: Start) -> None:
    worker = await start(SCHEDULED, '[triggers]\ncrons = ["*/30 * * * *", "0 * * * *"]\n')
    await worker.advance(HOUR_S)
    assert [(cron, (t - START_MS) // 60_000) for cron, t, _ in seen(worker)] == [
        ("*/30 * * * *", 30),
        ("*/30 * * * *", 60),
        ("0 * * * *", 60),
    ]


async def test_a_delayed_message_is_delivered_only_after_its_delay(start: Start) -> None:
    worker = await start(PRODUCER, QUEUE)
    await worker.env.JOBS.send("delayed", delaySeconds=60)
    await worker.advance(59)
    assert seen(worker) == []
    assert [m.body for m in worker.queues["jobs"].pending] == ["delayed"]
    await worker.advance(1)
    assert seen(worker) == [("jobs", "delayed", 1)]
    assert worker.queues["jobs"].pending == []


async def test_advance_interleaves_crons_and_deliveries_in_time_order(start: Start) -> None:
    worker = await start(
        """
        SEEN = []

        async def scheduled(controller, env, ctx):
            SEEN.append(("cron", controller.scheduledTime))
            await env.JOBS.send("from cron")

        async def queue(batch, env, ctx):
            SEEN.extend(("queue", m.body) for m in batch.messages)
        """,
        QUEUE.replace("max_batch_timeout = 0", "max_batch_timeout = 10")
        + '[triggers]\ncrons = ["* * * * *"]\n',
    )
    await worker.env.JOBS.send("before", delaySeconds=30)
    await worker.advance(120)
    # "before" is ready at 30 s and goes out at 40 s (the batch timeout); each cron's message 10 s
    # after its minute, so the one sent at 120 s is still waiting.
    assert seen(worker) == [
        ("queue", "before"),
        ("cron", START_MS + 60_000),
        ("queue", "from cron"),
        ("cron", START_MS + 120_000),
    ]
    assert [m.body for m in worker.queues["jobs"].pending] == ["from cron"]
    await worker.advance(10)
    assert seen(worker)[-1] == ("queue", "from cron")


# --- D1 migrations ------------------------------------------------------------------------------

D1 = """
[[d1_databases]]
binding = "DB"
database_name = "app"
migrations_dir = "schema"
"""


async def test_each_d1_database_starts_with_its_migrations_applied_in_name_order(
    start: Start, tmp_path: Path
) -> None:
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "0002_seed.sql").write_text("INSERT INTO users (name) VALUES ('ada');\n")
    (schema / "0001_users.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n")
    (schema / "notes.txt").write_text("not a migration")
    worker = await start(ECHO, D1)
    users = await worker.env.DB.prepare("SELECT name FROM users").all()
    assert [row["name"] for row in users["results"]] == ["ada"]
    applied = await worker.env.DB.prepare("SELECT name, applied_at FROM d1_migrations ORDER BY id").raw()
    assert applied == [["0001_users.sql", "2026-01-01 00:00:00"], ["0002_seed.sql", "2026-01-01 00:00:00"]]
    # The database is the binding's own: writes stick, and foreign keys are still enforced.
    await worker.env.DB.prepare("INSERT INTO users (name) VALUES (?)").bind("grace").run()
    assert await worker.env.DB.prepare("SELECT count(*) AS n FROM users").first("n") == 2
    assert await worker.env.DB.prepare("PRAGMA foreign_keys").first("foreign_keys") == 1


async def test_a_d1_database_without_a_migrations_folder_starts_empty(start: Start) -> None:
    worker = await start(ECHO, D1)
    tables = await worker.env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").raw()
    assert tables == []


async def test_a_failing_migration_stops_the_start_with_the_file_and_line(
    start: Start, tmp_path: Path
) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "0001_bad.sql").write_text("CREATE TABLE ok (x);\n\nCREATE TABLE (broken;\n")
    with pytest.raises(D1Error, match=r"migration .*0001_bad\.sql failed at line 3"):
        await start(ECHO, D1)


async def test_every_start_gets_its_own_copy_of_the_migrated_database_and_sees_edited_files(
    start: Start, tmp_path: Path
) -> None:
    (tmp_path / "schema").mkdir()
    migration = tmp_path / "schema" / "0001_init.sql"
    migration.write_text("CREATE TABLE items (name TEXT);\n")
    first = await start(ECHO, D1)
    await first.env.DB.prepare("INSERT INTO items VALUES ('only in the first')").run()
    second = await start(ECHO, D1)
    assert await second.env.DB.prepare("SELECT count(*) AS n FROM items").first("n") == 0
    migration.write_text("CREATE TABLE items (name TEXT, price INTEGER);\n")
    third = await start(ECHO, D1)
    columns = await third.env.DB.prepare("SELECT name FROM pragma_table_info('items')").raw()
    assert columns == [["name"], ["price"]]
