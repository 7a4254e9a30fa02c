"""`workerlab queues ... --url`: the same commands on a running `workerlab dev`, through its inspector
API, printing what they print from the persist directory."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from devprocess import DevProcess
from test_cli_queues_support import LIVE_WORKER, send_to

from workerlab.cli import main
from workerlab.errors import EXIT_USER_ERROR

CONFIG = """
name = "remote"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.producers]]
binding = "HELD"
queue = "held"
[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
max_retries = 0
dead_letter_queue = "jobs-dlq"
"""

# The live worker of test_cli_queues, sending to "held" (no consumer: what is sent there stays)
# instead of its barrier queue. A "fail-" message fails its first delivery only, so a redriven one
# is acked.
WORKER = LIVE_WORKER.replace('"barrier"', '"held"').replace("env.BARRIER", "env.HELD")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    (tmp_path / "wrangler.toml").write_text(CONFIG)
    (tmp_path / "worker.py").write_text(WORKER)
    with DevProcess(["--no-reload", "--persist-to", "state"], cwd=tmp_path) as process:
        process.wait_ready()
        yield process


def queues(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["queues", *args], input=input)


def local(folder: Path, *args: str) -> Result:
    """The same command on the persist directory the server uses."""
    return queues(*args, "-c", str(folder / "wrangler.toml"), "--persist-to", str(folder / "state"))


def counts(dev: DevProcess, queue: str) -> dict[str, object]:
    listed = queues("--url", dev.url, "--json")
    assert listed.exit_code == 0, listed.output
    found: dict[str, object] = next(s for s in json.loads(listed.stdout) if s["queue"] == queue)
    return found


def test_list_and_show_print_what_the_persist_directory_shows(dev: DevProcess, tmp_path: Path) -> None:
    send_to(dev, "held", "h1", "h2", "h3")
    remote = queues("--url", dev.url, "--json")
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == json.loads(local(tmp_path, "--json").stdout)
    assert [s["queue"] for s in json.loads(remote.stdout)] == ["jobs", "held", "jobs-dlq"]
    assert counts(dev, "held")["pending"] == 3

    table = queues("--url", dev.url)
    assert table.stdout == local(tmp_path).stdout
    assert [c.strip() for c in table.stdout.splitlines()[0].split(" | ")][:3] == ["queue", "state", "pending"]

    shown = queues("show", "held", "--url", dev.url, "--json", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document == json.loads(local(tmp_path, "show", "held", "--json", "--limit", "2").stdout)
    assert [m["body"] for m in document["next"]] == ["h1", "h2"]
    assert (document["pending"], document["last_dropped"]) == (3, [])

    # `queues QUEUE` is `queues show QUEUE`, and --url may come before the queue's name.
    table = queues("--url", dev.url, "held")
    assert table.stdout == local(tmp_path, "held").stdout
    assert "Next 3 pending" in table.stdout and "'h1'" in table.stdout


def test_pause_and_resume_a_running_consumer(dev: DevProcess) -> None:
    paused = queues("pause", "jobs", "--url", dev.url)
    assert paused.stdout.strip() == 'Paused message delivery for queue "jobs".', paused.output
    assert queues("pause", "jobs", "--url", dev.url).stdout.strip() == 'Queue "jobs" was already paused.'
    assert counts(dev, "jobs")["paused"] is True

    send_to(dev, "jobs", "waits")
    assert counts(dev, "jobs")["pending"] == 1
    mark = dev.mark()
    resumed = queues("--url", dev.url, "resume-delivery", "jobs")  # wrangler's name, --url given first
    assert resumed.stdout.strip() == 'Resumed message delivery for queue "jobs".', resumed.output
    dev.wait_for(r"^GOT jobs waits 1$", after=mark)
    assert counts(dev, "jobs")["paused"] is False
    assert queues("resume", "jobs", "--url", dev.url).stdout.strip() == 'Queue "jobs" was not paused.'

    unknown = queues("pause", "typo", "--url", dev.url)
    assert unknown.exit_code == EXIT_USER_ERROR
    assert unknown.stderr.startswith("✘ No queue named 'typo'") and "Traceback" not in unknown.output


def test_purge_asks_for_the_queue_name_unless_yes(dev: DevProcess) -> None:
    send_to(dev, "held", "p1", "p2", "p3")
    refused = queues("purge", "held", "--url", dev.url, input="nope\n")
    assert refused.exit_code == EXIT_USER_ERROR
    assert 'delete the 3 message(s) of queue "held"' in refused.stderr
    assert "Incorrect queue name provided. Skipping purge operation" in refused.stderr
    unanswered = queues("purge", "held", "--url", dev.url, input="")
    assert unanswered.exit_code == EXIT_USER_ERROR and "pass --yes" in unanswered.stderr
    assert counts(dev, "held")["pending"] == 3

    confirmed = queues("purge", "held", "--url", dev.url, input="held\n")
    assert confirmed.stdout.strip() == 'Purged queue "held": 3 message(s) deleted.', confirmed.output
    send_to(dev, "held", "p4")
    purged = queues("purge", "held", "--url", dev.url, "--yes")
    assert purged.stdout.strip() == 'Purged queue "held": 1 message(s) deleted.', purged.output
    assert counts(dev, "held")["pending"] == 0


def test_redrive_dead_letters_into_the_running_consumer(dev: DevProcess) -> None:
    send_to(dev, "jobs", "fail-a", "fail-b")
    dev.wait_for(r"^QUEUE jobs 0/2 ")  # both failed, both moved to jobs-dlq (which has no consumer)
    assert counts(dev, "jobs-dlq")["pending"] == 2

    mark = dev.mark()
    one = queues("redrive", "jobs-dlq", "--to", "jobs", "--limit", "1", "--url", dev.url)
    assert one.stdout.strip() == 'Moved 1 message(s) from dead-letter queue "jobs-dlq" back to "jobs".'
    dev.wait_for(r"^GOT jobs fail-a 1$", after=mark)  # attempts start again at 1
    mark = dev.mark()
    rest = queues("redrive", "jobs-dlq", "--url", dev.url)  # --to: the queue jobs-dlq serves
    assert rest.stdout.strip() == 'Moved 1 message(s) from dead-letter queue "jobs-dlq" back to "jobs".'
    dev.wait_for(r"^GOT jobs fail-b 1$", after=mark)
    dev.wait_for(r"^QUEUE jobs 1/1 ", after=mark)
    assert (counts(dev, "jobs")["dead_lettered"], counts(dev, "jobs-dlq")["pending"]) == (2, 0)

    nowhere = queues("redrive", "held", "--url", dev.url)
    assert nowhere.exit_code == EXIT_USER_ERROR
    assert f"no consumer in the workers at {dev.url} names" in nowhere.stderr
    assert "say where the messages go with --to QUEUE" in nowhere.stderr
    unknown = queues("redrive", "jobs-dlq", "--to", "nowhere", "--url", dev.url)
    assert unknown.exit_code == EXIT_USER_ERROR
    assert (
        unknown.stderr.strip()
        == "✘ Cannot redrive to 'nowhere': no such queue (queues: jobs, held, jobs-dlq)"
    )


def test_nothing_answering_at_the_url_is_one_clear_line() -> None:
    with socket.socket() as bound:  # bound but not listening: a connection is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        for args in (["--json"], ["show", "jobs"], ["pause", "jobs"], ["purge", "jobs", "--yes"]):
            result = queues(*args, "--url", url)
            assert result.exit_code == EXIT_USER_ERROR, (args, result.output)
            assert result.stdout == ""
            (line,) = result.stderr.splitlines()
            assert line.startswith(f"✘ Nothing answered at {url}/cdn-cgi/workerlab/")
            assert line.endswith("is `workerlab dev` running there?")


def test_url_with_a_persist_directory_is_refused(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8787"
    both = queues("pause", "jobs", "--url", url, "--persist-to", str(tmp_path))
    assert both.exit_code == EXIT_USER_ERROR
    assert both.stderr.strip() == (
        f"✘ --url acts on the running server at {url}, which has its own config and persist directory: "
        "drop --persist-to, or drop --url to act on the persist directory"
    )
    split = queues("-c", "wrangler.toml", "--url", url, "show", "jobs")  # given before the subcommand too
    assert split.exit_code == EXIT_USER_ERROR and "drop -c, or drop --url" in split.stderr
    assert not (tmp_path / "queues.sqlite3").exists()
    bad = queues("--url", "127.0.0.1:8787")
    assert bad.exit_code == 2 and "like http://127.0.0.1:8787" in bad.stderr
