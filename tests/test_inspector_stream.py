"""``GET events``: the timeline as server-sent events, history first then live, one message's events,
resuming after a reconnect, change notices, and the end of the stream."""

from __future__ import annotations

from pathlib import Path

from test_inspector_support import API, EventReader, inspected

from workerlab.inspector.state import InspectorState


async def test_history_then_live_entries(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/")
        reader = EventReader(shop.inspector, shop.session)
        hello = await reader.until("hello")
        assert hello["history"] == hello["latest_seq"] == 2  # the load, then the request
        assert (await reader.until("entry"))["kind"] == "session"
        assert (await reader.until("entry"))["title"] == "GET / 200"
        await shop.visit("/boom")
        live = await reader.until("entry")
        assert live["title"] == "GET /boom 500" and live["level"] == "error"
        assert reader.status == 200
        await reader.close()
        assert shop.inspector.state.timeline.listeners == 0


async def test_the_inspectors_own_requests_are_not_on_the_timeline(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.get("queues")
        await shop.client.get("/cdn-cgi/workerlab/")
        timeline = await shop.get("timeline")
        assert [entry["kind"] for entry in timeline["entries"]] == ["session"]


async def test_following_one_message_across_its_deliveries(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/job?name=ok")
        await shop.visit("/job?name=bad&fail=1")
        pending = await shop.get("queues/jobs/messages")
        failing = next(m["id"] for m in pending["messages"] if m["body"]["fail"])
        reader = EventReader(shop.inspector, shop.session, query=f"message={failing}")
        assert (await reader.until("hello"))["history"] == 0
        await shop.settle()  # attempt 1 fails and is retried, attempt 2 fails: to the dead-letter queue
        first = await reader.until("entry")
        second = await reader.until("entry")
        moved = await reader.until("entry")
        assert [m["fate"] for m in first["messages"] if m["id"] == failing] == ["retried"]
        assert first["error"]["message"] == "job bad failed"
        assert [m["fate"] for m in second["messages"] if m["id"] == failing] == ["dead-lettered"]
        assert (moved["kind"], moved["to"]) == ("dead_letter", "jobs-dlq")
        followed = await shop.get(f"timeline?message={failing}")
        assert [entry["seq"] for entry in followed["entries"]] == [first["seq"], second["seq"], moved["seq"]]
        await reader.close()


async def test_a_reconnecting_reader_resumes_after_the_last_event_it_saw(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        for path in ("/a", "/b", "/c"):
            await shop.visit(path)
        reader = EventReader(shop.inspector, shop.session, headers={"last-event-id": "3"})
        assert (await reader.until("hello"))["history"] == 1
        assert (await reader.until("entry"))["title"] == "GET /c 200"
        await reader.close()


async def test_a_change_made_elsewhere_is_announced(tmp_path: Path) -> None:
    state = InspectorState(change_poll_s=0.01)
    async with inspected(tmp_path, state=state) as shop:
        reader = EventReader(shop.inspector, shop.session)
        await reader.until("hello")
        # Another process (here: a second connection) writes to the queue store.
        from workerlab.queues.store import QueueStore

        other = QueueStore.open(tmp_path)
        try:
            other.insert("jobs", [("f" * 32, 0, "json", b"1", 0)])
        finally:
            other.close()
        assert (await reader.until("changed"))["topics"] == ["queues"]
        await reader.close()


async def test_an_action_through_the_inspector_is_announced(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        reader = EventReader(shop.inspector, shop.session, query="after=1")  # past the load entry
        await reader.until("hello")
        assert (await shop.post("queues/jobs/send", {"body": {"job": "x"}})).status_code == 200
        entry = await reader.until("entry")
        assert entry["kind"] == "action" and entry["title"] == "Sent a test message to jobs"
        assert (await reader.until("changed"))["topics"] == ["queues"]
        await reader.close()


async def test_open_streams_end_when_the_server_stops(tmp_path: Path) -> None:
    state = InspectorState(change_poll_s=0.01)
    async with inspected(tmp_path, state=state) as shop:
        stopping = False
        shop.inspector.stop_when(lambda: stopping)
        reader = EventReader(shop.inspector, shop.session)
        await reader.until("hello")
        stopping = True
        await reader.close()  # would time out if the stream did not end on its own
        assert reader.done


async def test_the_json_timeline_reports_its_bounds(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/")
        answer = await shop.get("timeline?limit=1")
        assert [entry["title"] for entry in answer["entries"]] == ["GET / 200"]
        assert answer["stats"]["entries"] == 2 and answer["stats"]["dropped"] == 0
        assert answer["stats"]["max_events"] == 10_000
        bad = await shop.client.get(API + "events?after=abc")
        assert bad.status_code == 400
