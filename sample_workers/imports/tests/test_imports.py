"""The imports sample: chunks as messages, progress as chunks finish, bad rows, retries, dead letters."""

from __future__ import annotations

import pytest

from workerlab.limits import DEFAULT_MAX_BATCH_TIMEOUT_S

pytestmark = pytest.mark.workerlab(config="sample_workers/imports/wrangler.toml", vars={"CHUNK_ROWS": "2"})

#: ``retry_delay`` of the chunk consumer in wrangler.toml.
RETRY_DELAY_S = 10
#: Five rows: three chunks of two rows at most.
CONTACTS_CSV = """email,name,plan
ada@example.com,Ada,pro
bob@example.com,Bob,free
cy@example.com,Cy,team
di@example.com,Di,free
ed@example.com,Ed,pro
"""


async def upload(worker, text: str = CONTACTS_CSV) -> str:
    response = await worker.fetch("/imports?filename=contacts.csv", method="POST", body=text)
    assert response.status == 202
    created = await response.json()
    assert (created["rows"], created["chunks"]) == (5, 3)
    return created["id"]


async def progress(worker, import_id: str) -> dict:
    response = await worker.fetch(f"/imports/{import_id}")
    assert response.status == 200
    return await response.json()


async def contact_emails(worker) -> list[str]:
    result = await worker.env.DB.prepare("SELECT email FROM contacts ORDER BY email").all()
    return [row["email"] for row in result["results"]]


def counts(report: dict) -> tuple:
    return report["status"], report["doneChunks"], report["failedChunks"], report["importedRows"]


async def test_an_upload_is_split_into_chunks_and_counted_as_they_finish(worker) -> None:
    import_id = await upload(worker)
    chunks = [m.body for m in worker.queues["import-chunks"].pending]
    assert [(c["chunk"], c["firstRow"], len(c["rows"])) for c in chunks] == [(0, 1, 2), (1, 3, 2), (2, 5, 1)]
    assert counts(await progress(worker, import_id)) == ("processing", 0, 0, 0)

    await worker.queue("import-chunks", [chunks[0]])
    assert counts(await progress(worker, import_id)) == ("processing", 1, 0, 2)

    await worker.drain()  # delivers all three, chunk 0 a second time

    report = await progress(worker, import_id)
    assert report == {
        "id": import_id,
        "filename": "contacts.csv",
        "status": "completed",
        "rows": 5,
        "importedRows": 5,
        "chunks": 3,
        "doneChunks": 3,
        "failedChunks": 0,
        "errors": [],
    }
    assert len(await contact_emails(worker)) == 5
    # The second delivery of chunk 0 changed nothing and was acked at once.
    acked = sorted((m.body["chunk"], m.attempts) for m in worker.queues["import-chunks"].acked)
    assert acked == [(0, 1), (1, 1), (2, 1)]


async def test_a_bad_row_fails_only_its_chunk(worker) -> None:
    import_id = await upload(worker, CONTACTS_CSV.replace("cy@example.com", "cy-at-example.com"))

    await worker.drain()

    report = await progress(worker, import_id)
    assert counts(report) == ("completed_with_errors", 2, 1, 3)
    assert report["errors"] == [{"chunk": 1, "row": 3, "error": "invalid email 'cy-at-example.com'"}]
    # Di shares the bad row's chunk, so she is not imported either; the other chunks are.
    assert await contact_emails(worker) == ["ada@example.com", "bob@example.com", "ed@example.com"]
    # A bad row is not worth a retry: its chunk is acked at once.
    assert [d.attempts for d in worker.queues["import-chunks"].deliveries] == [1, 1, 1]


async def test_a_chunk_that_cannot_be_stored_is_retried(worker, monkeypatch) -> None:
    import_id = await upload(worker)
    store = worker.env.DB.batch
    outages = [RuntimeError("D1_ERROR: Network connection lost.")]

    async def flaky_batch(statements):
        if outages:
            raise outages.pop()
        return await store(statements)

    monkeypatch.setattr(worker.env.DB, "batch", flaky_batch)
    started_s = worker.clock.now_s()

    await worker.drain()

    assert counts(await progress(worker, import_id)) == ("completed", 3, 0, 5)
    acked = sorted((m.body["chunk"], m.attempts) for m in worker.queues["import-chunks"].acked)
    assert acked == [(0, 2), (1, 1), (2, 1)]
    # The first batch waits max_batch_timeout; the retry waits retry_delay, then the batch timeout.
    assert worker.clock.now_s() - started_s == DEFAULT_MAX_BATCH_TIMEOUT_S * 2 + RETRY_DELAY_S


async def test_chunks_that_keep_failing_are_dead_lettered_and_recorded_as_failed(worker, monkeypatch) -> None:
    import_id = await upload(worker)

    async def unavailable(statements):
        raise RuntimeError("D1_ERROR: Network connection lost.")

    monkeypatch.setattr(worker.env.DB, "batch", unavailable)

    await worker.drain()

    assert sorted(m.body["chunk"] for m in worker.queues["import-chunks"].dead_lettered) == [0, 1, 2]
    assert {d.attempts for d in worker.queues["import-chunks"].deliveries} == {1, 2, 3, 4}
    report = await progress(worker, import_id)
    assert counts(report) == ("completed_with_errors", 0, 3, 0)
    assert {e["error"] for e in report["errors"]} == {"could not be stored; gave up after retries"}
    assert worker.queues["import-chunks-dlq"].pending == []


@pytest.mark.parametrize(
    ("text", "error"),
    [("email,name\nada@example.com,Ada\n", "the CSV header lacks plan"), ("email,name,plan\n", "no rows")],
)
async def test_an_unusable_upload_is_refused(worker, text, error) -> None:
    response = await worker.fetch("/imports", method="POST", body=text)

    assert response.status == 400
    assert error in (await response.json())["error"]
    assert worker.queues["import-chunks"].pending == []
