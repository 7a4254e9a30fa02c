"""CSV imports in chunks: one queue message per chunk of rows, progress counted as chunks finish.

``POST /imports`` takes a CSV of contacts (``email,name,plan``), splits its rows into chunks of
``CHUNK_ROWS`` and sends one message per chunk. The consumer stores a chunk's rows and its
progress record in one D1 batch (all or nothing). A bad row fails its chunk, and only that
chunk: the other chunks are imported. A chunk that cannot be stored (D1 unavailable) is
retried, then dead-lettered, and the dead-letter consumer records it as failed.
``GET /imports/<id>`` reports the progress.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint

#: The columns the CSV header must name.
COLUMNS = ("email", "name", "plan")
PLANS = ("free", "pro", "team")
#: The queue the consumer gives up into (``dead_letter_queue`` in wrangler.toml).
DEAD_LETTER_QUEUE = "import-chunks-dlq"
#: What one sendBatch() may carry: 100 messages, 256 KB (kept under it: encodings differ a little).
MAX_BATCH_MESSAGES = 100
MAX_BATCH_BYTES = 250_000

UPSERT_CONTACT = """
INSERT INTO contacts (email, name, plan, import_id) VALUES (?, ?, ?, ?)
ON CONFLICT (email) DO UPDATE SET name = excluded.name, plan = excluded.plan, import_id = excluded.import_id
"""
# OR IGNORE: a chunk delivered again after it finished is not counted twice.
RECORD_CHUNK = """
INSERT OR IGNORE INTO import_chunks (import_id, chunk, status, imported_rows, error_row, error)
VALUES (?, ?, ?, ?, ?, ?)
"""


async def route(request, env) -> Response:
    url = urlparse(request.url)
    match request.method, url.path.strip("/").split("/"):
        case "POST", ["imports"]:
            filename = parse_qs(url.query).get("filename", ["upload.csv"])[0]
            return await start_import(await request.text(), filename, env)
        case "GET", ["imports", import_id]:
            return await progress(import_id, env)
    return Response.json({"error": f"no route for {request.method} {url.path}"}, status=404)


async def start_import(text: str, filename: str, env) -> Response:
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        return Response.json({"error": f"the CSV header lacks {', '.join(missing)}"}, status=400)
    rows = [[(row[column] or "").strip() for column in COLUMNS] for row in reader]
    if not rows:
        return Response.json({"error": "the CSV has a header but no rows"}, status=400)
    size = int(env.CHUNK_ROWS)
    chunks = [rows[start : start + size] for start in range(0, len(rows), size)]
    import_id = uuid.uuid4().hex
    await (
        env.DB.prepare("INSERT INTO imports (id, filename, total_rows, total_chunks) VALUES (?, ?, ?, ?)")
        .bind(import_id, filename, len(rows), len(chunks))
        .run()
    )
    messages = [
        {"body": {"importId": import_id, "chunk": n, "firstRow": n * size + 1, "rows": chunk}}
        for n, chunk in enumerate(chunks)
    ]
    for group in send_groups(messages):
        await env.IMPORT_CHUNKS.sendBatch(group)
    return Response.json(
        {"id": import_id, "rows": len(rows), "chunks": len(chunks)},
        status=202,
        headers={"location": f"/imports/{import_id}"},
    )


def send_groups(messages: list[dict]):
    """``messages`` cut into groups that one sendBatch() accepts."""
    group: list[dict] = []
    group_bytes = 0
    for message in messages:
        size = len(json.dumps(message["body"]).encode())
        if group and (len(group) == MAX_BATCH_MESSAGES or group_bytes + size > MAX_BATCH_BYTES):
            yield group
            group, group_bytes = [], 0
        group.append(message)
        group_bytes += size
    if group:
        yield group


def row_error(email: str, name: str, plan: str) -> str | None:
    """Why a row cannot be imported, or None."""
    if "@" not in email[1:-1]:
        return f"invalid email {email!r}"
    if not name:
        return "the name is empty"
    if plan not in PLANS:
        return f"plan must be one of {', '.join(PLANS)}, got {plan!r}"
    return None


def record_chunk(env, chunk: dict, status: str, imported_rows: int, error_row=None, error=None):
    return env.DB.prepare(RECORD_CHUNK).bind(
        chunk["importId"], chunk["chunk"], status, imported_rows, error_row, error
    )


async def import_chunk(env, chunk: dict) -> None:
    for offset, row in enumerate(chunk["rows"]):
        error = row_error(*row)
        if error:
            # Retrying would not make the row any better: the chunk fails now, and only this chunk.
            await record_chunk(env, chunk, "failed", 0, chunk["firstRow"] + offset, error).run()
            return
    upserts = [env.DB.prepare(UPSERT_CONTACT).bind(*row, chunk["importId"]) for row in chunk["rows"]]
    # One transaction: the rows and the progress record are stored together, or not at all.
    await env.DB.batch([*upserts, record_chunk(env, chunk, "done", len(chunk["rows"]))])


async def consume(batch, env) -> None:
    for message in batch.messages:
        chunk = message.body
        if batch.queue == DEAD_LETTER_QUEUE:
            await record_chunk(
                env, chunk, "failed", 0, error="could not be stored; gave up after retries"
            ).run()
            continue
        try:
            await import_chunk(env, chunk)
        except Exception as error:  # D1 unavailable or overloaded: worth another try
            print(f"chunk {chunk['chunk']} of import {chunk['importId']} failed: {error}")
            message.retry()
        else:
            message.ack()


async def progress(import_id: str, env) -> Response:
    job = await (
        env.DB.prepare("SELECT filename, total_rows, total_chunks FROM imports WHERE id = ?")
        .bind(import_id)
        .first()
    )
    if job is None:
        return Response.json({"error": f"no import {import_id}"}, status=404)
    result = await (
        env.DB.prepare(
            "SELECT chunk, status, imported_rows, error_row, error FROM import_chunks"
            " WHERE import_id = ? ORDER BY chunk"
        )
        .bind(import_id)
        .all()
    )
    chunks = result["results"]
    failed = [chunk for chunk in chunks if chunk["status"] == "failed"]
    if len(chunks) < job["total_chunks"]:
        status = "processing"
    else:
        status = "completed_with_errors" if failed else "completed"
    return Response.json(
        {
            "id": import_id,
            "filename": job["filename"],
            "status": status,
            "rows": job["total_rows"],
            "importedRows": sum(chunk["imported_rows"] for chunk in chunks),
            "chunks": job["total_chunks"],
            "doneChunks": len(chunks) - len(failed),
            "failedChunks": len(failed),
            "errors": [
                {"chunk": chunk["chunk"], "row": chunk["error_row"], "error": chunk["error"]}
                for chunk in failed
            ],
        }
    )


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        """Routes: POST /imports, GET /imports/<id>."""
        return await route(request, self.env)

    async def queue(self, batch, env, ctx):
        """Import each chunk (or record a dead-lettered one as failed)."""
        await consume(batch, env)
