"""The queue REST API in-process: pull, ack, leases and their expiry, retries, dead letters, pause,
retention, and the shapes of every answer and refusal."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from test_pull_support import Api, api_for, pull_consumer, queue_url, write_project

from workerlab import limits
from workerlab.config import QueueConsumer
from workerlab.queues import admin
from workerlab.queues.inspector import summarize

START_MS = 1_767_225_600_000  # the fake clock's start, 2026-01-01T00:00:00Z


@pytest.fixture
async def api(tmp_path: Path):
    async with api_for(write_project(tmp_path), consumers=[pull_consumer()]) as made:
        yield made


def decoded(message: dict) -> object:
    """A pulled body as the consumer decodes it (Cloudflare: text plain, json and bytes base64)."""
    kind = message["metadata"]["CF-Content-Type"]
    if kind == "text":
        return message["body"]
    raw = base64.b64decode(message["body"])
    return json.loads(raw) if kind == "json" else raw


# --- pull ---------------------------------------------------------------------------------------


async def test_a_pull_answers_in_cloudflares_shape(api: Api) -> None:
    await api.send({"order": 7})
    response = await api.post(queue_url("jobs", "pull"), {"batch_size": 10, "visibility_timeout_ms": 5000})

    document = response.json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert (document["success"], document["errors"], document["messages"]) == (True, [], [])
    [message] = document["result"]["messages"]
    assert set(message) == {"body", "id", "timestamp_ms", "attempts", "lease_id", "metadata"}
    assert len(message["id"]) == 32 and message["timestamp_ms"] == START_MS and message["attempts"] == 1
    assert message["body"] == base64.b64encode(b'{"order":7}').decode()
    assert message["metadata"] == {"CF-sourceMessageSource": "worker", "CF-Content-Type": "json"}
    assert document["result"]["message_backlog_count"] == 1
    assert document["result"]["metadata"] == {
        "metrics": {"backlog_count": 1, "backlog_bytes": 11, "oldest_message_timestamp_ms": START_MS}
    }


async def test_bodies_are_encoded_by_content_type(api: Api) -> None:
    await api.send("plain words", content_type="text")
    await api.send(b"\x00\xffraw", content_type="bytes")
    await api.send(["a", 1, None])

    messages = await api.pull()

    assert messages[0]["body"] == "plain words"
    assert [decoded(m) for m in messages] == ["plain words", b"\x00\xffraw", ["a", 1, None]]
    assert [m["metadata"]["CF-Content-Type"] for m in messages] == ["text", "bytes", "json"]


async def test_an_empty_body_pulls_five_and_batch_size_pulls_up_to_a_hundred(api: Api) -> None:
    await api.worker.env.JOBS.sendBatch([{"body": i} for i in range(100)])
    await api.worker.env.JOBS.sendBatch([{"body": i} for i in range(100, 110)])

    response = await api.client.post(queue_url("jobs", "pull"))  # no body at all

    assert [decoded(m) for m in response.json()["result"]["messages"]] == [0, 1, 2, 3, 4]
    assert len(await api.pull(batch_size=limits.MAX_PULL_BATCH_SIZE)) == 100
    assert [decoded(m) for m in await api.pull(batch_size=100)] == [105, 106, 107, 108, 109]
    assert await api.pull() == []  # short polling: nothing left answers at once, empty


async def test_a_leased_message_is_not_pulled_again_until_its_lease_runs_out(api: Api) -> None:
    await api.send("once")
    [first] = await api.pull(visibility_timeout_ms=10_000)

    api.clock.advance(9.999)
    assert await api.pull() == []
    api.clock.advance(0.001)
    [again] = await api.pull()

    assert again["id"] == first["id"]
    assert again["attempts"] == 2  # the expired lease counted as an attempt
    assert again["lease_id"] != first["lease_id"]


async def test_the_default_lease_is_thirty_seconds_or_the_consumers(tmp_path: Path) -> None:
    consumer = pull_consumer(visibility_timeout_ms=2_000)
    async with api_for(write_project(tmp_path), consumers=[consumer]) as api:
        await api.send("x")
        await api.pull()
        api.clock.advance(2)
        assert len(await api.pull()) == 1
    assert limits.DEFAULT_VISIBILITY_TIMEOUT_MS == 30_000


async def test_visibility_timeout_as_the_docs_prose_spells_it(api: Api) -> None:
    await api.send("x")
    await api.pull(visibility_timeout=1_000)
    api.clock.advance(1)
    assert len(await api.pull()) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number from 1 to 100, found 0"),
        ({"batch_size": 101}, "found 101"),
        ({"batch_size": "5"}, 'found "5"'),
        ({"batch_size": True}, "found true"),
        ({"batch_size": 2.5}, "found 2.5"),
        ({"visibility_timeout_ms": -1}, f"from 0 to {limits.MAX_VISIBILITY_TIMEOUT_MS}"),
        ({"visibility_timeout_ms": limits.MAX_VISIBILITY_TIMEOUT_MS + 1}, "visibility_timeout_ms must be"),
        ({"batchSize": 3}, "unknown field(s) batchSize"),
    ],
)
async def test_bad_pull_options_are_a_400(api: Api, body: dict, fragment: str) -> None:
    response = await api.post(queue_url("jobs", "pull"), body)

    assert response.status_code == 400
    document = response.json()
    assert document["success"] is False and document["result"] is None
    [error] = document["errors"]
    assert error["code"] == 10026 and fragment in error["message"]


@pytest.mark.parametrize(
    ("raw", "fragment"), [(b"{nope", "not valid JSON"), (b"[1]", "must be a JSON object, found list")]
)
async def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, raw: bytes, fragment: str) -> None:
    response = await api.client.post(queue_url("jobs", "pull"), content=raw)
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]


# --- ack and retry ------------------------------------------------------------------------------


async def test_acked_messages_are_gone_and_the_others_come_back(api: Api) -> None:
    await api.send("a", "b")
    first, _ = await api.pull(visibility_timeout_ms=1_000)

    assert await api.ack(acks=[first["lease_id"]]) == {"ackCount": 1, "retryCount": 0}
    api.clock.advance(1)

    [back] = await api.pull()
    assert (decoded(back), back["attempts"]) == ("b", 2)


async def test_an_ack_after_the_lease_ran_out_is_still_honoured(api: Api) -> None:
    await api.send("late")
    [message] = await api.pull(visibility_timeout_ms=1_000)
    api.clock.advance(5)

    assert (await api.ack(acks=[message["lease_id"]]))["ackCount"] == 1
    assert await api.pull() == []


async def test_two_consumers_that_received_a_message_may_both_ack_it(api: Api) -> None:
    await api.send("shared")
    [first] = await api.pull(visibility_timeout_ms=1_000)
    api.clock.advance(1)
    [second] = await api.pull()

    assert (await api.ack(acks=[second["lease_id"]]))["ackCount"] == 1
    result = await api.ack(acks=[first["lease_id"]])
    assert result["ackCount"] == 0
    assert "no longer in the queue" in result["warnings"][first["lease_id"]]


async def test_a_retry_puts_the_message_back_after_its_delay(api: Api) -> None:
    await api.send("again")
    [message] = await api.pull(visibility_timeout_ms=60_000)

    result = await api.ack(retries=[{"lease_id": message["lease_id"], "delay_seconds": 10}])

    assert result == {"ackCount": 0, "retryCount": 1}
    api.clock.advance(9)
    assert await api.pull() == []
    api.clock.advance(1)
    [back] = await api.pull()
    assert back["attempts"] == 2


async def test_a_retry_without_a_delay_uses_the_consumers_retry_delay(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path), consumers=[pull_consumer(retry_delay_s=30)]) as api:
        await api.send("x")
        [message] = await api.pull()
        await api.ack(retries=[{"lease_id": message["lease_id"]}])
        api.clock.advance(29)
        assert await api.pull() == []
        api.clock.advance(1)
        assert len(await api.pull()) == 1


async def test_a_retry_of_a_lease_that_another_pull_replaced_changes_nothing(api: Api) -> None:
    await api.send("x")
    [old] = await api.pull(visibility_timeout_ms=1_000)
    api.clock.advance(1)
    [current] = await api.pull(visibility_timeout_ms=60_000)

    result = await api.ack(retries=[{"lease_id": old["lease_id"]}])

    assert result["retryCount"] == 0
    assert "pulled again" in result["warnings"][old["lease_id"]]
    assert await api.pull() == []  # still leased by the current holder
    assert (await api.ack(acks=[current["lease_id"]]))["ackCount"] == 1


async def test_unknown_lease_ids_are_warnings_not_errors(api: Api) -> None:
    result = await api.ack(acks=["not-a-lease"], retries=[{"lease_id": f"ff-1-{'0' * 32}"}])

    assert result["ackCount"] == 0 and result["retryCount"] == 0
    assert result["warnings"] == {
        "not-a-lease": "not a lease id this server gave out",
        f"ff-1-{'0' * 32}": "the message is no longer in the queue (acked, expired or purged)",
    }


async def test_a_lease_of_another_queue_is_refused_with_a_warning(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path), consumers=[pull_consumer(), pull_consumer("other")]) as api:
        await api.send("x")
        [message] = await api.pull()
        result = await api.ack("other", acks=[message["lease_id"]])
        assert result["warnings"][message["lease_id"]] == 'the message is in queue "jobs" now, not "other"'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"acks": "x"}, '"acks" must be a list, found str'),
        ({"acks": ["x"]}, "acks[0] must be an object like"),
        ({"acks": [{"lease_id": ""}]}, "acks[0].lease_id must be the lease_id string"),
        ({"acks": [{"lease_id": "a", "delay_seconds": 1}]}, "acks[0]: unknown field(s) delay_seconds"),
        ({"retries": [{"lease_id": "a", "delay_seconds": -1}]}, "retries[0].delay_seconds must be"),
        (
            {"retries": [{"lease_id": "a", "delay_seconds": limits.MAX_DELAY_S + 1}]},
            f"from 0 to {limits.MAX_DELAY_S}",
        ),
        ({"acks": [{"lease_id": "a"}] * (limits.MAX_ACK_LEASES + 1)}, "at most 1000 lease ids"),
        ({"ack": []}, "unknown field(s) ack"),
    ],
)
async def test_bad_acks_are_a_400(api: Api, body: dict, fragment: str) -> None:
    response = await api.post(queue_url("jobs", "ack"), body)
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]


# --- attempts, dead letters, content types ----------------------------------------------------


async def test_a_message_whose_leases_keep_running_out_goes_to_the_dead_letter_queue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = pull_consumer(max_retries=1, dead_letter_queue="jobs-dlq", visibility_timeout_ms=1_000)
    async with api_for(write_project(tmp_path), consumers=[consumer]) as api:
        await api.send("doomed")
        for attempt in (1, 2):
            [message] = await api.pull()
            assert message["attempts"] == attempt
            api.clock.advance(1)

        assert await api.pull() == []  # its attempts ran out: moved instead of delivered

        dead = api.worker.queues["jobs-dlq"].pending
        assert [(m.id, m.body, m.attempts) for m in dead] == [(message["id"], "doomed", 0)]
        assert [m.id for m in api.worker.queues["jobs"].dead_lettered] == [message["id"]]
        assert 'to dead letter queue "jobs-dlq" after 2 failed attempts' in caplog.text


async def test_a_retry_once_the_attempts_ran_out_drops_the_message(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path), consumers=[pull_consumer(max_retries=0)]) as api:
        await api.send("once")
        [message] = await api.pull()
        result = await api.ack(retries=[{"lease_id": message["lease_id"]}])

        assert result["retryCount"] == 1
        assert [m.body for m in api.worker.queues["jobs"].dropped] == ["once"]
        assert api.worker.queues["jobs"].pending == []


async def test_a_v8_message_cannot_be_pulled_and_fails_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = pull_consumer(dead_letter_queue="jobs-dlq")
    async with api_for(write_project(tmp_path), consumers=[consumer]) as api:
        await api.send("before")
        await api.send({"a": {1, 2}}, content_type="v8")
        await api.send("after")

        assert [decoded(m) for m in await api.pull()] == ["before", "after"]
        assert [m.body for m in api.worker.queues["jobs-dlq"].pending] == [{"a": {1, 2}}]
        assert "a v8 message cannot be pulled" in caplog.text


# --- pause, retention, push consumers -----------------------------------------------------------


async def test_a_paused_queue_answers_409_queue_delivery_paused(api: Api) -> None:
    await api.send("waiting")
    store = api.worker.session.queue_broker().store
    admin.pause(store, "jobs")

    response = await api.post(queue_url("jobs", "pull"), {})

    assert response.status_code == 409
    assert response.json()["errors"] == [{"code": 11010, "message": "queue_delivery_paused"}]
    assert (await api.publish("still accepted")).status_code == 200
    admin.resume(store, "jobs")
    assert [decoded(m) for m in await api.pull()] == ["waiting", "still accepted"]


async def test_messages_past_retention_are_removed_instead_of_pulled(tmp_path: Path) -> None:
    consumer = pull_consumer(message_retention_period_s=limits.MIN_MESSAGE_RETENTION_PERIOD_S)
    async with api_for(write_project(tmp_path), consumers=[consumer]) as api:
        await api.send("old")
        api.clock.advance(limits.MIN_MESSAGE_RETENTION_PERIOD_S - 1)
        await api.send("young")
        api.clock.advance(1)
        assert [decoded(m) for m in await api.pull(visibility_timeout_ms=0)] == ["old", "young"]
        api.clock.advance(0.001)  # "old" is now older than the retention period

        assert [decoded(m) for m in await api.pull()] == ["young"]
        summary = summarize(api.worker.session.queue_broker().store, "jobs", api.clock, retention_s=60)
        assert (summary.expired, summary.pending, summary.in_flight) == (1, 1, 1)


async def test_a_queue_a_worker_consumes_cannot_be_pulled(tmp_path: Path) -> None:
    worker = "async def queue(batch, env, ctx):\n    pass\n"
    async with api_for(write_project(tmp_path, worker=worker), consumers=[QueueConsumer("jobs")]) as api:
        response = await api.post(queue_url("jobs", "pull"), {})
        assert response.status_code == 409
        assert 'queue "jobs" is consumed by the Worker pulled' in response.json()["errors"][0]["message"]


async def test_a_queue_without_any_consumer_can_be_pulled(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path), consumers=[]) as api:
        await api.send("unclaimed")
        assert [decoded(m) for m in await api.pull()] == ["unclaimed"]


# --- publish ------------------------------------------------------------------------------------


async def test_publish_one_message(api: Api) -> None:
    response = await api.publish({"hello": "world"})

    assert response.status_code == 200
    document = response.json()
    assert document["success"] is True
    assert document["result"]["metadata"]["metrics"]["backlog_count"] == 1
    [message] = await api.pull()
    assert decoded(message) == {"hello": "world"}
    assert message["metadata"] == {"CF-sourceMessageSource": "api", "CF-Content-Type": "json"}


async def test_publish_text_with_a_delay(api: Api) -> None:
    await api.publish("later", content_type="text", delay_seconds=30)
    api.clock.advance(29)
    assert await api.pull() == []
    api.clock.advance(1)
    assert [decoded(m) for m in await api.pull()] == ["later"]


async def test_publish_a_batch_with_its_own_and_each_messages_delay(api: Api) -> None:
    body = {
        "messages": [{"body": 1}, {"body": "two", "content_type": "text", "delay_seconds": 0}],
        "delay_seconds": 10,
    }
    response = await api.post(queue_url("jobs", "batch"), body)

    assert response.status_code == 200
    assert [decoded(m) for m in await api.pull()] == ["two"]
    api.clock.advance(10)
    assert [decoded(m) for m in await api.pull()] == [1]


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("", {}, 400, '"body" is required'),
        ("", {"body": None}, 400, '"body" is required'),
        ("", {"body": "x", "content_type": "bytes"}, 400, 'content_type must be "json" or "text"'),
        ("", {"body": "x", "content_type": "v8"}, 400, "no bytes or v8 messages"),
        (
            "",
            {"body": 5, "content_type": "text"},
            400,
            'a "text" message\'s body must be a string, found int',
        ),
        ("", {"body": "x", "delay_seconds": limits.MAX_DELAY_S + 1}, 400, "delay_seconds must be"),
        ("", {"body": "x", "contentType": "text"}, 400, "unknown field(s) contentType"),
        ("", {"body": "x" * limits.MAX_MESSAGE_BYTES}, 413, "the limit is 128000 bytes per message"),
        ("batch", {"messages": []}, 400, "at least one message"),
        ("batch", {"messages": [{"body": 1}] * 101}, 400, "at most 100 messages"),
        ("batch", {"messages": [5]}, 400, "messages[0] must be an object with a body, found int"),
        ("batch", {"messages": [{"body": "x" * 100_000, "content_type": "text"}] * 3}, 413, "bytes in all"),
    ],
)
async def test_bad_publishes_are_refused_and_store_nothing(
    api: Api, path: str, body: dict, status: int, fragment: str
) -> None:
    response = await api.post(queue_url("jobs", path), body)

    assert response.status_code == status
    assert fragment in response.json()["errors"][0]["message"]
    assert api.worker.queues["jobs"].pending == []


async def test_a_message_published_to_a_pushed_queue_reaches_its_worker(tmp_path: Path) -> None:
    worker = "got = []\n\nasync def queue(batch, env, ctx):\n    got.extend(m.body for m in batch.messages)\n"
    consumer = QueueConsumer("jobs", max_batch_timeout_s=0)
    async with api_for(write_project(tmp_path, worker=worker), consumers=[consumer]) as api:
        assert (await api.publish({"n": 1})).status_code == 200
        await api.worker.drain()
        assert api.worker.runtime.worker.module.got == [{"n": 1}]


# --- who may call, and how much -----------------------------------------------------------------


async def test_any_bearer_token_or_none_is_accepted(api: Api) -> None:
    for headers in ({"authorization": "Bearer whatever"}, {}, {"authorization": "Bearer "}):
        response = await api.client.post(queue_url("jobs", "pull"), json={}, headers=headers)
        assert response.status_code == 200


async def test_a_request_from_another_sites_page_is_refused(api: Api) -> None:
    await api.send("secret")
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        response = await api.client.post(queue_url("jobs", "pull"), json={}, headers=headers)
        assert response.status_code == 403
        assert "another site" in response.json()["errors"][0]["message"]
    same_origin = await api.client.post(
        queue_url("jobs", "pull"), json={}, headers={"origin": "http://127.0.0.1:8787"}
    )
    assert [decoded(m) for m in same_origin.json()["result"]["messages"]] == ["secret"]


async def test_request_size_limits_answer_with_cloudflares_statuses(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_url = queue_url("jobs", "pull") + "?" + "q" * limits.MAX_URL_BYTES
    assert (await api.client.post(long_url, json={})).status_code == 414
    big_headers = {f"x-filler-{i}": "v" * 8_000 for i in range(limits.MAX_HEADER_BYTES // 8_000 + 1)}
    assert (await api.client.post(queue_url("jobs", "pull"), json={}, headers=big_headers)).status_code == 431
    monkeypatch.setattr(limits, "MAX_BODY_BYTES", 1_000)
    response = await api.post(queue_url("jobs"), {"body": "x" * 2_000})
    assert response.status_code == 413
    assert "more than 1000 bytes" in response.json()["errors"][0]["message"]


async def test_unknown_routes_and_methods_answer_in_the_envelope(api: Api) -> None:
    missing = await api.post(queue_url("jobs", "peek"), {})
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == 7003
    wrong = await api.client.get(queue_url("jobs", "pull"))
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


async def test_workerlab_logs_nothing_as_the_workers_request(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    await api.pull()
    assert "POST /cdn-cgi" not in caplog.text
