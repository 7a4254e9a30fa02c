"""What the inspector and `workerlab queues` read: summaries and pages of messages, without reading
a whole queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workerlab.clock import FakeClock, utc_from_ms
from workerlab.config import QueueConsumer
from workerlab.queues import admin, inspector, pull
from workerlab.queues.store import QueueStore

NOW_MS = 1_767_225_600_000


@pytest.fixture
def store() -> Iterator[QueueStore]:
    made = QueueStore.open(None)
    yield made
    made.close()


def put(store: QueueStore, queue: str, *bodies: bytes, ready_ms: int = NOW_MS, sent_ms: int = NOW_MS) -> None:
    rows = [(f"{len(body):02x}{i:030x}", sent_ms, "json", body, ready_ms) for i, body in enumerate(bodies)]
    store.insert(queue, rows)


def test_pages_list_waiting_messages_in_delivery_order(store: QueueStore) -> None:
    put(store, "q", b"1", b"2", b"3")
    put(store, "q", b"9", ready_ms=NOW_MS + 60_000)
    put(store, "q", b"0", ready_ms=NOW_MS - 1)
    store.claim("q", "someone", NOW_MS, 1)  # "0" is in flight: counted, not listed

    records, cursor = inspector.page(store, "q", None, 10, now_ms=NOW_MS)

    assert cursor is None
    assert [(r.body, r.state) for r in records] == [(1, "ready"), (2, "ready"), (3, "ready"), (9, "delayed")]
    assert records[-1].next_delivery == utc_from_ms(NOW_MS + 60_000)
    assert inspector.summarize(store, "q", FakeClock(NOW_MS / 1000)).in_flight == 1


def test_following_the_cursor_lists_every_message_once(store: QueueStore) -> None:
    for start in range(0, 2_000, 100):
        put(store, "q", *(str(n).encode() for n in range(start, start + 100)), ready_ms=NOW_MS + start)

    seen: list[object] = []
    cursor = None
    pages = 0
    while True:
        records, cursor = inspector.page(store, "q", cursor, 150, now_ms=NOW_MS)
        seen += [r.body for r in records]
        pages += 1
        if cursor is None:
            break
    assert seen == list(range(2_000))
    assert pages == 14


def test_an_exact_page_boundary_ends_without_an_empty_page(store: QueueStore) -> None:
    put(store, "q", b"1", b"2")
    records, cursor = inspector.page(store, "q", None, 2, now_ms=NOW_MS)
    assert len(records) == 2 and cursor is None


def test_each_page_is_one_range_read_of_an_index(store: QueueStore) -> None:
    db = store.connection
    plan = " ".join(
        row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + inspector._PAGE_WAITING, ("q", 0, 0, 10))
    )
    assert "USING INDEX" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan


def test_a_cursor_that_no_page_gave_is_a_value_error(store: QueueStore) -> None:
    with pytest.raises(ValueError, match="'bogus' is not a cursor"):
        inspector.page(store, "q", "bogus", 10)
    with pytest.raises(ValueError, match="limit must be 1 or more"):
        inspector.page(store, "q", None, 0)


def test_pulled_and_expired_messages_show_as_such(store: QueueStore) -> None:
    put(store, "q", b"1", sent_ms=NOW_MS - 120_000, ready_ms=NOW_MS - 120_000)
    put(store, "q", b"2")
    consumer = QueueConsumer("q", type="http_pull")
    pull.pull(store, consumer, batch_size=1, visibility_timeout_ms=30_000, now_ms=NOW_MS - 110_000)
    records, _ = inspector.page(store, "q", None, 10, now_ms=NOW_MS, retention_s=60)
    assert [(r.body, r.state) for r in records] == [(1, "expired"), (2, "ready")]
    records, _ = inspector.page(store, "q", None, 10, now_ms=NOW_MS - 100_000, retention_s=60)
    assert [(r.body, r.state) for r in records] == [(1, "pulled"), (2, "delayed")]


def test_records_as_json_encode_what_json_cannot_carry(store: QueueStore) -> None:
    store.insert("q", [("a" * 32, NOW_MS, "bytes", b"\x00\x01", NOW_MS)])
    store.insert("q", [("b" * 32, NOW_MS, "text", b"words", NOW_MS)], source="api")
    store.insert("q", [("c" * 32, NOW_MS, "weird", b"??", NOW_MS)])
    records, _ = inspector.page(store, "q", None, 10, now_ms=NOW_MS)
    documents = [r.to_json() for r in records]
    assert documents[0]["body"] == "AAE=" and documents[0]["body_encoding"] == "base64"
    assert documents[1] == {
        "id": "b" * 32,
        "attempts": 0,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "content_type": "text",
        "state": "ready",
        "next_delivery": "2026-01-01T00:00:00+00:00",
        "size_bytes": 5,
        "source": "api",
        "body": "words",
    }
    assert documents[2]["body_encoding"] == "base64"  # an unknown content type stays raw


def test_summary_counts_ready_delayed_in_flight_and_what_left(store: QueueStore) -> None:
    clock = FakeClock(NOW_MS / 1000)
    put(store, "q", b"1", b"2", b"3")
    put(store, "q", b"4", ready_ms=NOW_MS + 1)
    store.claim("q", "someone", NOW_MS, 1)
    admin.pause(store, "q")

    summary = inspector.summarize(store, "q", clock)

    assert summary == inspector.QueueSummary(
        queue="q",
        pending=4,
        delayed=1,
        in_flight=1,
        dropped=0,
        ready=2,
        dead_lettered=0,
        expired=0,
        paused=True,
        backlog_bytes=4,
    )


@pytest.mark.parametrize("exact_up_to", [10_000, 1])
def test_summary_of_a_large_queue_reads_index_ranges_only(
    store: QueueStore, monkeypatch: pytest.MonkeyPatch, exact_up_to: int
) -> None:
    monkeypatch.setattr(inspector, "EXACT_SUMMARY_MAX_MESSAGES", exact_up_to)
    clock = FakeClock(NOW_MS / 1000)
    put(store, "q", b"1", b"2", sent_ms=NOW_MS - 200_000, ready_ms=NOW_MS - 200_000)
    put(store, "q", b"3", b"4", b"5")
    put(store, "q", b"6", ready_ms=NOW_MS + 5_000)

    summary = inspector.summarize(store, "q", clock, retention_s=100)

    assert (summary.pending, summary.ready, summary.delayed, summary.expired) == (4, 3, 1, 2)


def test_queue_names_come_from_the_config_then_the_store(store: QueueStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_pull_support import write_project

    from workerlab.config import load_config

    put(store, "stored-only", b"1")
    config = load_config(write_project(tmp_path))
    assert inspector.queue_names(config, store) == ["jobs", "stored-only"]
