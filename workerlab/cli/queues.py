"""`workerlab queues`: what the local queues hold, and pause / resume / purge / redrive.

Every command acts on the store in the persist directory, so it works while `workerlab dev`
runs on the same directory (which sees a change within its poll interval). With ``--url`` it acts
on a running `workerlab dev` through its inspector API instead (:mod:`.queues_remote`), and
prints the same.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import main, queues_remote
from .common import config_option, env_option, format_rows, load_for_command, persist_option, user_errors

if TYPE_CHECKING:
    from ..config import WorkerConfig
    from ..queues.inspector import QueueSummary
    from ..queues.store import QueueStore

T = TypeVar("T")

_limit_option = click.option(
    "--limit", type=click.IntRange(0), default=20, show_default=True, help="Messages to list per kind."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
_url_option = click.option(
    "--url",
    metavar="URL",
    default=None,
    callback=queues_remote.check_url,
    help="Act on the running `workerlab dev` at URL (like http://127.0.0.1:8787) through its inspector "
    "API, not on the persist directory; not with -c, --env or --persist-to.",
)


class _QueuesGroup(click.Group):
    """`workerlab queues [QUEUE]` lists, `workerlab queues pause QUEUE` acts: a first argument
    that names no subcommand is the queue to show."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


@dataclass(frozen=True)
class _Where:
    """Where a command acts: the persist directory of a config, or the `workerlab dev` at ``url``."""

    config: Path | None = None
    env: str | None = None
    persist_to: Path | None = None
    url: str | None = None


def _where_options(command: Callable[..., None]) -> Callable[..., None]:
    """-c, --env, --persist-to and --url, given to ``command`` as one ``where``: those the
    subcommand leaves out come from before it (`queues -c X pause Q`); --url with any of the others
    is refused, as they would be ignored."""

    @functools.wraps(command)
    def with_where(
        *args: Any, config: Path | None, env: str | None, persist_to: Path | None, url: str | None, **kw: Any
    ) -> None:
        parent = (click.get_current_context().obj or {}).get("where") or _Where()
        where = _Where(
            config or parent.config, env or parent.env, persist_to or parent.persist_to, url or parent.url
        )
        local = [("-c", where.config), ("--env", where.env), ("--persist-to", where.persist_to)]
        given = [name for name, value in local if value]
        if where.url is not None and given:
            _fail(
                f"--url acts on the running server at {where.url}, which has its own config and persist "
                f"directory: drop {' and '.join(given)}, or drop --url to act on the persist directory"
            )
        command(*args, where=where, **kw)

    return config_option(env_option(persist_option(_url_option(with_where))))


@main.group(cls=_QueuesGroup, invoke_without_command=True)
@_where_options
@_limit_option
@_json_option
@click.pass_context
def queues(ctx: click.Context, where: _Where, limit: int, as_json: bool) -> None:
    """Inspect the local queues (counts of every queue, or the messages of QUEUE), or act on one:
    pause, resume, purge, redrive. With --url, those of a running `workerlab dev`."""
    ctx.obj = {"where": where, "limit": limit, "as_json": as_json}
    if ctx.invoked_subcommand is None:
        _list_all(where, as_json)


@queues.command()
@click.argument("queue")
@_where_options
@_limit_option
@_json_option
@click.pass_context
def show(ctx: click.Context, queue: str, where: _Where, limit: int, as_json: bool) -> None:
    """The counts and messages of QUEUE (also `workerlab queues QUEUE`): next pending, last dropped."""
    if ctx.get_parameter_source("limit") is click.core.ParameterSource.DEFAULT:
        limit = ctx.obj["limit"]
    as_json = as_json or ctx.obj["as_json"]
    if where.url is None:
        found = _read_queue(where, queue, limit)
    else:
        found = queues_remote.run(
            where.url,
            lambda remote: (
                remote.summary(queue),
                remote.next_pending(queue, limit),
                remote.last_dropped(queue, limit),
            ),
        )
    if found is None:
        return
    summary, pending, dropped = found
    if as_json:
        document = {**vars(summary), "next": pending, "last_dropped": dropped}
        click.echo(json.dumps(document, indent=2, default=str))
        return
    click.echo(format_rows([_table_row(summary)]))
    for title, records in (
        (f"Next {len(pending)} pending", pending),
        (f"Last {len(dropped)} dropped", dropped),
    ):
        click.echo(f"\n{title}:")
        click.echo(format_rows([{**record, "body": _short(record["body"])} for record in records]))


@queues.command(name="pause")
@click.argument("queue")
@_where_options
def pause(queue: str, where: _Where) -> None:
    """Stop delivering QUEUE (sends are still accepted); a running `workerlab dev` stops within 100 ms.
    (wrangler: `queues pause-delivery`.)"""
    from ..queues import admin

    changed = _act(queue, where, lambda store, _: admin.pause(store, queue), lambda r: r.pause(queue))
    if changed:
        click.echo(f'Paused message delivery for queue "{queue}".')
    else:
        click.echo(f'Queue "{queue}" was already paused.')


@queues.command(name="resume")
@click.argument("queue")
@_where_options
def resume(queue: str, where: _Where) -> None:
    """Deliver QUEUE again. (wrangler: `queues resume-delivery`.)"""
    from ..queues import admin

    changed = _act(queue, where, lambda store, _: admin.resume(store, queue), lambda r: r.resume(queue))
    if changed:
        click.echo(f'Resumed message delivery for queue "{queue}".')
    else:
        click.echo(f'Queue "{queue}" was not paused.')


queues.add_command(pause, name="pause-delivery")
queues.add_command(resume, name="resume-delivery")


@queues.command()
@click.argument("queue")
@click.option("--yes", "-y", "--force", "yes", is_flag=True, help="Do not ask for confirmation.")
@_where_options
def purge(queue: str, yes: bool, where: _Where) -> None:
    """Delete every message of QUEUE, delayed ones included; asks for the queue's name unless --yes."""
    from ..queues import admin

    def confirm(held: Callable[[], int]) -> None:
        if yes:
            return  # nothing to show: the count is not even read
        try:
            answer = click.prompt(
                f'This will permanently delete the {held()} message(s) of queue "{queue}". '
                f"Type {queue} to proceed",
                default="",
                show_default=False,
                err=True,
            )
        except click.Abort:
            _fail(f"purge asks for the queue name to confirm: type {queue}, or pass --yes")
        if answer.strip() != queue:
            _fail("Incorrect queue name provided. Skipping purge operation")

    def confirm_then_purge(store: QueueStore, _: WorkerConfig) -> int:
        confirm(lambda: store.state(queue).backlog_count)
        return admin.purge(store, queue)

    def confirm_then_purge_remote(remote: queues_remote.RemoteQueues) -> int:
        confirm(lambda: remote.summary(queue).pending)
        return remote.purge(queue)

    removed = _act(queue, where, confirm_then_purge, confirm_then_purge_remote)
    click.echo(f'Purged queue "{queue}": {removed} message(s) deleted.')


@queues.command()
@click.argument("dlq")
@click.option(
    "--to",
    "target",
    default=None,
    help="The queue to move the messages to (default: the queue whose dead-letter queue DLQ is).",
)
@click.option("--limit", type=click.IntRange(0), default=None, help="Move at most this many (default: all).")
@_where_options
def redrive(dlq: str, target: str | None, limit: int | None, where: _Where) -> None:
    """Move the messages of the dead-letter queue DLQ back to --to QUEUE (same ids, attempts from 1)."""
    from ..clock import SystemClock
    from ..queues import admin

    def move(store: QueueStore, worker_config: WorkerConfig) -> tuple[str, int]:
        sources = [c.queue for c in worker_config.consumers if c.dead_letter_queue == dlq]
        to = _redrive_target(dlq, target, sources, str(worker_config.path))
        return to, admin.redrive(store, dlq, to, SystemClock().now_ms(), limit=limit)

    def move_remote(remote: queues_remote.RemoteQueues) -> tuple[str, int]:
        sources = [] if target else remote.dead_letter_sources(dlq)
        to = _redrive_target(dlq, target, sources, f"the workers at {remote.url}")
        return to, remote.redrive(dlq, to, limit)

    to, moved = _act(dlq, where, move, move_remote)
    click.echo(f'Moved {moved} message(s) from dead-letter queue "{dlq}" back to "{to}".')


# --- helpers --------------------------------------------------------------------------------


def _list_all(where: _Where, as_json: bool) -> None:
    from ..queues import inspector

    if where.url is not None:
        _print_summaries(queues_remote.run(where.url, lambda remote: remote.summaries()), as_json)
        return
    with _local_store(where, create=False) as opened:
        if opened is None:
            return
        worker_config, store = opened
        summaries = [
            _summary(store, worker_config, name) for name in inspector.queue_names(worker_config, store)
        ]
    _print_summaries(summaries, as_json)


def _print_summaries(summaries: list[QueueSummary], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([vars(s) for s in summaries], indent=2))
    else:
        click.echo(format_rows([_table_row(s) for s in summaries]))


def _read_queue(
    where: _Where, queue: str, limit: int
) -> tuple[QueueSummary, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The counts, next pending and last dropped messages of ``queue`` in the persist directory
    (None, said, when nothing is stored there yet)."""
    from ..queues import inspector

    with _local_store(where, create=False) as opened:
        if opened is None:
            return None
        worker_config, store = opened
        pending = inspector.first_pending(store, queue, limit)
        dropped = inspector.last_dropped(store, queue, limit)
        summary = _summary(store, worker_config, queue)
    return summary, [inspector.record_json(r) for r in pending], [inspector.record_json(r) for r in dropped]


def _summary(store: QueueStore, worker_config: WorkerConfig, queue: str) -> QueueSummary:
    from ..clock import SystemClock
    from ..queues import inspector

    retention_s = inspector.retention_s(worker_config.consumers, queue)
    return inspector.summarize(store, queue, SystemClock(), retention_s=retention_s)


def _act(
    queue: str,
    where: _Where,
    action: Callable[[QueueStore, WorkerConfig], T],
    remote_action: Callable[[queues_remote.RemoteQueues], T],
) -> T:
    """``remote_action`` on the server at ``--url``; else load the config, open the store (creating
    it), run ``action`` on it, close it."""
    from ..queues.inspector import queue_names

    if where.url is not None:
        return queues_remote.run(where.url, remote_action)
    with _local_store(where, create=True) as opened:
        assert opened is not None
        worker_config, store = opened
        if queue not in queue_names(worker_config, store):
            click.echo(
                f'note: queue "{queue}" is not named in {worker_config.path} and holds nothing yet', err=True
            )
        return user_errors(lambda: action(store, worker_config))


@contextlib.contextmanager
def _local_store(where: _Where, *, create: bool) -> Iterator[tuple[WorkerConfig, QueueStore] | None]:
    """The config and the queue store of the persist directory, closed after the block; None (said)
    when nothing is stored there yet and ``create`` is false."""
    from ..queues.store import STORE_FILE_NAME, QueueStore

    worker_config, persist_dir = load_for_command(where.config, where.env, where.persist_to)
    if not create and not (persist_dir / STORE_FILE_NAME).is_file():
        click.echo(f"No queue has stored anything yet in {persist_dir}.")
        yield None
        return
    store = user_errors(lambda: QueueStore.open(persist_dir / STORE_FILE_NAME))
    try:
        yield worker_config, store
    finally:
        store.close()


def _redrive_target(dlq: str, target: str | None, sources: list[str], where: str) -> str:
    """``--to``, else the one queue whose consumer dead-letters into ``dlq`` (``sources``)."""
    from ..errors import ConfigError

    if target:
        return target
    if len(sources) != 1:
        raise ConfigError(
            f'redrive: no consumer in {where} names "{dlq}" as its dead_letter_queue; '
            "say where the messages go with --to QUEUE"
        )
    return sources[0]


def _table_row(summary: QueueSummary) -> dict[str, Any]:
    return {
        "queue": summary.queue,
        "state": "paused" if summary.paused else "active",
        "pending": summary.pending,
        "ready": summary.ready,
        "delayed": summary.delayed,
        "in_flight": summary.in_flight,
        "dead_lettered": summary.dead_lettered,
        "dropped": summary.dropped,
        "expired": summary.expired,
    }


def _fail(message: str) -> NoReturn:
    from ..errors import EXIT_USER_ERROR

    click.echo(f"✘ {message}", err=True)
    sys.exit(EXIT_USER_ERROR)


def _short(body: object, width: int = 60) -> str:
    text = repr(body)
    return text if len(text) <= width else text[: width - 3] + "..."
