"""End to end (SPEC §10): `workerlab dev` with several workers in one process, and two processes
that share a persist directory and reach each other's workers over loopback."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import httpx
import pytest
from devprocess import DevProcess

PROJECTS = Path(__file__).parent / "projects"
RPC_LINE = r"^RPC auth\.{method} {outcome} \(\d+ms\)$"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The shop, auth and mailer workers copied side by side, as in a user's repository."""
    for name in ("shop", "auth", "mailer"):
        shutil.copytree(PROJECTS / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def dev(
    folder: Path, *configs: str, options: tuple[str, ...] = ("--persist-to", "state", "--no-reload")
) -> DevProcess:
    """`workerlab dev -c <name>/wrangler.toml ...` in ``folder`` (the first config is served)."""
    args = [arg for name in configs for arg in ("-c", f"{name}/wrangler.toml")]
    return DevProcess([*args, *options], cwd=folder)


def registered(process: DevProcess) -> str:
    """Wait until ``process`` is ready and has recorded its workers in the registry; return its URL.

    The registry entry is written after the `Ready on` line and before the bindings table, so
    another process can reach this one's workers only once the table is out.
    """
    url = process.wait_ready()
    process.wait_for(r"^\S+ (has access to the following bindings:|has no bindings\.)$")
    return url


def table(process: DevProcess, worker: str) -> list[list[str]]:
    """The rows of ``worker``'s block in the start-up bindings table, split into columns."""
    start = process.wait_for(rf"^{worker} has access to the following bindings:$")
    index = process.lines.index(start.string)
    rows = []
    for line in process.lines[index + 2 :]:
        if not line.startswith("  env."):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def stop(process: DevProcess) -> None:
    process.signal(signal.SIGTERM)
    assert process.wait_exit() == 0


def test_one_process_serves_the_first_worker_and_runs_the_others(folder: Path) -> None:
    with dev(
        folder, "shop", "auth", "mailer", options=("--no-reload", "--var", "REALM:from-the-command-line")
    ) as process:
        url = process.wait_ready()
        assert table(process, "shop") == [
            ["env.REALM", "Environment Variable", '"storefront"', "local"],
            ["env.EMAILS", "Queue", "emails", "local"],
            ["env.AUTH", "Worker", "auth", "local"],
            ["env.ADMIN", "Worker", "auth#AdminApi", "local"],
        ]
        assert table(process, "auth") == [
            ["env.REALM", "Environment Variable", '"accounts"', "local"],
            ["env.SHOP", "Worker", "shop", "local"],
        ]
        assert process.output.index("Ready on") < process.output.index("has access to the following bindings")

        with httpx.Client(base_url=url, trust_env=False) as client:
            assert client.get("/whoami").json()["worker"] == "shop"

            mark = process.mark()
            login = client.get("/login", headers={"authorization": "Bearer t-ada"})
            assert login.json() == {"ok": True, "name": "ada", "roles": ["buyer", "admin"]}
            process.wait_for(RPC_LINE.format(method="verify", outcome="ok"), after=mark)

            account = client.put("/account/me", headers={"authorization": "Bearer t-ada"}, content="x")
            assert (account.headers["x-served-by"], account.json()["body"]) == ("auth", "x")
            stats = client.get("/admin/stats").json()
            assert (stats["worker"], stats["realm"]) == (
                "auth",
                "from-the-command-line",
            )  # --var: every worker

            # The mailer (not served) consumes what the shop's fetch and scheduled handlers queue.
            mark = process.mark()
            order = client.post("/orders", json={"email": "ada@example.com", "item": "tea"})
            assert order.status_code == 202
            process.wait_for(r"^QUEUE emails 1/1 \(\d+ms\)$", after=mark)
            mark = process.mark()
            cron = client.get("/cdn-cgi/handler/scheduled", params={"cron": "*/30 * * * *"})
            assert (cron.status_code, cron.text) == (200, "ok")
            process.wait_for(r"^QUEUE emails 1/1 \(\d+ms\)$", after=mark)
        stop(process)
    # One persist directory for every worker: by default next to the first config.
    state = folder / "shop" / ".workerlab" / "state"
    assert (state / "queues.sqlite3").is_file()
    assert not (folder / "auth" / ".workerlab").exists() and not (folder / "mailer" / ".workerlab").exists()


@pytest.mark.parametrize("stopping", ["SIGTERM", "SIGKILL"])
def test_two_processes_sharing_a_persist_directory_reach_each_other(folder: Path, stopping: str) -> None:
    with dev(folder, "shop") as shop, dev(folder, "auth") as auth:
        url = registered(shop)
        registered(auth)
        # The table was printed before auth may have registered: "auth" or "auth [not running]".
        (row,) = [row for row in table(shop, "shop") if row[0] == "env.AUTH"]
        assert row[1] == "Worker" and row[2].split()[0] == "auth" and row[3] == "other process"

        with httpx.Client(base_url=url, trust_env=False) as client:
            mark = shop.mark()
            login = client.get("/login", headers={"authorization": "Bearer t-bob"})
            assert login.json() == {"ok": True, "name": "bob", "roles": ["buyer"]}
            shop.wait_for(RPC_LINE.format(method="verify", outcome="ok"), after=mark)

            account = client.post(
                "/account/orders?page=2", headers={"authorization": "Bearer t-bob"}, content="hi"
            )
            assert account.headers["x-served-by"] == "auth"
            assert account.json() == {
                "worker": "auth",
                "method": "POST",
                "url": f"{url}/account/orders?page=2",
                "authorization": "Bearer t-bob",
                "body": "hi",
            }
            assert client.get("/admin/stats").json()["worker"] == "auth"  # a named entrypoint
            expired = client.get("/login-safe", headers={"authorization": "Bearer t-expired"})
            assert (expired.status_code, expired.json()["error"]) == (503, "TokenExpired")
            # Calls are logged by the caller (an RPC line), not as requests of the process that serves them;
            # that process answers only callers that show the token from the registry.
            assert "/cdn-cgi/workerlab/rpc" not in auth.output
            forged = httpx.post(f"{auth.url}/cdn-cgi/workerlab/rpc/auth", content=b"x", trust_env=False)
            assert forged.status_code == 403

            if stopping == "SIGTERM":
                stop(auth)
            else:
                auth.kill()  # no chance to leave the registry: its entry names a dead process
            mark = shop.mark()
            handled = client.get("/login-safe", headers={"authorization": "Bearer t-bob"})
            assert handled.status_code == 503
            assert handled.json()["error"] == "ServiceUnavailableError"
            message = handled.json()["message"]
            assert 'the service "auth" is not running' in message
            assert "workerlab dev -c" in message and "--persist-to" in message
            shop.wait_for(RPC_LINE.format(method="verify", outcome="exception"), after=mark)

            page = client.get("/login", headers={"authorization": "Bearer t-bob"})
            assert page.status_code == 500
            assert 'the service "auth" is not running' in page.text
        stop(shop)


def test_a_reloaded_process_is_still_reached_by_the_other(folder: Path) -> None:
    with dev(folder, "shop") as shop, dev(folder, "auth", options=("--persist-to", "state")) as auth:
        url = registered(shop)
        registered(auth)
        with httpx.Client(base_url=url, trust_env=False) as client:
            new_token = client.get("/login", headers={"authorization": "Bearer t-cy"})
            assert new_token.status_code == 401
            mark = auth.mark()
            config = folder / "auth" / "config.py"
            config.write_text(config.read_text().replace('"t-bob": "bob"', '"t-bob": "bob", "t-cy": "bob"'))
            auth.wait_for("^Reloaded$", after=mark)
            assert client.get("/login", headers={"authorization": "Bearer t-cy"}).json()["name"] == "bob"
        stop(auth)
        stop(shop)


FRONT = """
from datetime import datetime, timedelta, timezone

from workers import Request, Response, WorkerEntrypoint

AWARE = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
#: name -> (value sent, value expected back)
VALUES = {
    "None": (None, None),
    "bool": (True, True),
    "int": (2**62, 2**62),
    "float": (2.5, 2.5),
    "str": ("grüße ✓", "grüße ✓"),
    "bytes": (b"\\x00\\xff", b"\\x00\\xff"),
    "list": ([1, [2]], [1, [2]]),
    "tuple": ((1, (2, 3)), [1, [2, 3]]),
    "dict": ({"a": {"b": [1, (2,)]}}, {"a": {"b": [1, [2]]}}),
    "datetime": (AWARE, AWARE),
}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        auth = self.env.AUTH
        report = {}
        for name, (value, expected) in VALUES.items():
            back = await auth.echo(value)
            report[name] = [back == expected, type(back).__name__ if not isinstance(back, dict) else "dict"]
        report["attribute access"] = (await auth.echo({"user": {"name": "ada"}})).user.name
        request = Request("https://a.example/r", method="POST", headers={"x-in": "h"}, body="b")
        rendered = await auth.render(request)
        report["Request in, Response out"] = [
            rendered.status, rendered.headers.get("x-seen"), await rendered.text()
        ]
        echoed = await auth.echo(Response("made", status=418, headers={"x-r": "1"}))
        report["Response"] = [echoed.status, echoed.headers.get("x-r"), await echoed.text()]
        for name, call in {
            "set": lambda: auth.echo({1}),
            "private": lambda: auth._rotate_keys(),
            "handler": lambda: auth.scheduled(),
            "missing": lambda: auth.refund(),
            "built-in": lambda: auth.lookup("carol"),
            "custom": lambda: auth.verify("t-expired"),
        }.items():
            try:
                report[name] = ["returned", repr(await call())]
            except Exception as error:
                report[name] = [type(error).__name__, str(error)]
        return Response.json(report)
"""


RECEIVER = "The RPC receiver auth does not implement the method"
NOT_CALLABLE = "(methods starting with _ and the handler names are not callable over RPC)"


def test_values_and_errors_cross_between_processes(folder: Path) -> None:
    (folder / "front").mkdir()
    (folder / "front" / "worker.py").write_text(FRONT)
    (folder / "front" / "wrangler.toml").write_text(
        'name = "front"\nmain = "worker.py"\n[[services]]\nbinding = "AUTH"\nservice = "auth"\n'
    )
    with dev(folder, "front") as front, dev(folder, "auth") as auth:
        url = registered(front)
        registered(auth)
        report = httpx.get(url + "/", trust_env=False).json()
        stop(auth)
        stop(front)
    types = {"None": "NoneType", "tuple": "list", "dict": "dict", "datetime": "datetime"}
    for name in ("None", "bool", "int", "float", "str", "bytes", "list", "tuple", "dict", "datetime"):
        assert report.pop(name) == [True, types.get(name, name)], name
    set_error = report.pop("set")
    assert set_error[0] == "TypeError" and "it is a set" in set_error[1]
    assert report == {
        "attribute access": "ada",
        "Request in, Response out": [201, "h", "POST https://a.example/r b"],
        "Response": [418, "1", "made"],
        "private": ["TypeError", f'{RECEIVER} "_rotate_keys" {NOT_CALLABLE}'],
        "handler": ["TypeError", f'{RECEIVER} "scheduled" {NOT_CALLABLE}'],
        "missing": ["TypeError", f'{RECEIVER} "refund"'],
        "built-in": ["KeyError", "'carol'"],
        "custom": ["TokenExpired", "the token t-expired expired at 2025-12-31T00:00:00Z"],
    }


def test_a_producer_in_one_process_feeds_the_consumer_in_another(folder: Path) -> None:
    with dev(folder, "shop") as shop, dev(folder, "mailer") as mailer:
        url = registered(shop)
        registered(mailer)
        mark = mailer.mark()
        order = httpx.post(url + "/orders", json={"email": "ada@example.com", "item": "tea"}, trust_env=False)
        assert order.status_code == 202
        mailer.wait_for(r"^QUEUE emails 1/1 \(\d+ms\)$", after=mark, timeout_s=5)
        stop(mailer)
        stop(shop)
    assert "QUEUE emails" not in shop.output


def test_workers_that_cannot_run_together_are_one_clear_error(folder: Path) -> None:
    (folder / "digest").mkdir()
    (folder / "digest" / "worker.py").write_text("async def queue(batch, env, ctx):\n    pass\n")
    (folder / "digest" / "wrangler.toml").write_text(
        'name = "digest"\nmain = "worker.py"\n[[queues.consumers]]\nqueue = "emails"\n'
    )
    with dev(folder, "shop", "mailer", "digest") as process:
        assert process.wait_exit() == 1
    assert "Traceback" not in process.output
    message = process.output
    assert 'the queue "emails" must have one consumer across the loaded workers' in message
    assert (
        str(Path("mailer") / "wrangler.toml") in message and str(Path("digest") / "wrangler.toml") in message
    )
    assert "Ready on" not in message
