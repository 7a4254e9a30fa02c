"""KV, D1 and R2 under a real `workerlab dev`: what a worker stores survives a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
from devprocess import DevProcess
from test_dev_server import write_worker

WORKER = """
from workers import Response

async def fetch(request, env):
    path = "/" + request.url.split("/", 3)[3]
    if path == "/write":
        await env.CACHE.put("greeting", "hello", expirationTtl=3600, metadata={"v": 1})
        await env.DB.prepare("INSERT INTO notes (text) VALUES (?)").bind("first note").run()
        await env.FILES.put("reports/r1.csv", "a,b\\n1,2\\n", httpMetadata={"contentType": "text/csv"})
        return Response("written")
    value = await env.CACHE.getWithMetadata("greeting")
    notes = await env.DB.prepare("SELECT text FROM notes").all()
    obj = await env.FILES.get("reports/r1.csv")
    listing = await env.FILES.list(prefix="reports/")
    return Response.json({
        "kv": [value["value"], value["metadata"]],
        "d1": [row["text"] for row in notes["results"]],
        "r2": [await obj.text(), obj.httpMetadata["contentType"], [o.key for o in listing["objects"]]],
    })
"""

BINDINGS = """
[[kv_namespaces]]
binding = "CACHE"
id = "cache"

[[d1_databases]]
binding = "DB"
database_name = "notes"

[[r2_buckets]]
binding = "FILES"
bucket_name = "files"
"""


def test_kv_d1_and_r2_survive_a_restart(tmp_path: Path) -> None:
    write_worker(tmp_path, source=WORKER, extra_config=BINDINGS)
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001.sql").write_text(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);\n"
    )
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.post(url + "/write").text == "written"
        dev.signal()
        assert dev.wait_exit() == 0
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.get(url + "/read").json() == {
            "kv": ["hello", {"v": 1}],
            "d1": ["first note"],
            "r2": ["a,b\n1,2\n", "text/csv", ["reports/r1.csv"]],
        }
    state = tmp_path / ".workerlab" / "state"
    assert (state / "d1").is_dir() and (state / "kv").is_dir() and (state / "r2").is_dir()
