"""`workerlab queues`: what the local queues hold, and pause / resume / purge / redrive.

Every command acts on the store in the persist directory, so it works while `workerlab dev`
runs on the same directory (which sees a change within its poll interval).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import main
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


class _QueuesGroup(click.Group):
    """`workerlab queues [QUEUE]` lists, `workerlab queues pause QUEUE` acts: a first argument
    that names no subcommand is the queue to show."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


@main.group(cls=_QueuesGroup, invoke_without_command=True)
@config_option
@env_option
@persist_option
@_limit_option
@_json_option
@click.pass_context
def queues(
    ctx: click.Context,
    config: Path | None,
    env: str | None,
    persist_to: Path | None,
    limit: int,
    as_json: bool,
) -> None:
    """Inspect the local queues (counts of every queue, or the messages of QUEUE), or act on one:
    pause, resume, purge, redrive."""
    ctx.obj = {"config": config, "env": env, "persist_to": persist_to, "limit": limit, "as_json": as_json}
    if ctx.invoked_subcommand is None:
        _list_all(config, env, persist_to, as_json)


@queues.command()
@click.argument("queue")
@config_option
@env_option
@persist_option
@_limit_option
@_json_option
@click.pass_context
def show(
    ctx: click.Context,
    queue: str,
    config: Path | None,
    env: str | None,
    persist_to: Path | None,
    limit: int,
    as_json: bool,
) -> None:
    """The counts and messages of QUEUE (also `workerlab queues QUEUE`): next pending, last dropped."""
    from ..clock import SystemClock
    from ..queues import inspector

    config, env, persist_to = _inherit(ctx, config, env, persist_to)
    if ctx.get_parameter_source("limit") is click.core.ParameterSource.DEFAULT:
        limit = ctx.obj["limit"]
    as_json = as_json or ctx.obj["as_json"]
    worker_config, persist_dir = load_for_command(config, env, persist_to)
    store = _open_store(persist_dir, create=False)
    if store is None:
        return
    try:
        pending = inspector.first_pending(store, queue, limit)
        dropped = inspector.last_dropped(store, queue, limit)
        summary = inspector.summarize(
            store, queue, SystemClock(), retention_s=_retention_s(worker_config, queue)
        )
    finally:
        store.close()
    if as_json:
        document = {
            **vars(summary),
            "next": [inspector.record_json(r) for r in pending],
            "last_dropped": [inspector.record_json(r) for r in dropped],
        }
        click.echo(json.dumps(document, indent=2, default=str))
        return
    click.echo(format_rows([_table_row(summary)]))
    for title, records in (
        (f"Next {len(pending)} pending", pending),
        (f"Last {len(dropped)} dropped", dropped),
    ):
        click.echo(f"\n{title}:")
        rows = [{**inspector.record_json(r), "body": _short(r.body)} for r in records]
        click.echo(format_rows(rows))


@queues.command(name="pause")
@click.argument("queue")
@config_option
@env_option
@persist_option
@click.pass_context
def pause(
    ctx: click.Context, queue: str, config: Path | None, env: str | None, persist_to: Path | None
) -> None:
    """Stop delivering QUEUE (sends are still accepted); a running `workerlab dev` stops within 100 ms.
    (wrangler: `queues pause-delivery`.)"""
    from ..queues import admin

    changed = _act(ctx, queue, (config, env, persist_to), lambda store, _: admin.pause(store, queue))
    if changed:
        click.echo(f'Paused message delivery for queue "{queue}".')
    else:
        click.echo(f'Queue "{queue}" was already paused.')


@queues.command(name="resume")
@click.argument("queue")
@config_option
@env_option
@persist_option
@click.pass_context
def resume(
    ctx: click.Context, queue: str, config: Path | None, env: str | None, persist_to: Path | None
) -> None:
    """Deliver QUEUE again. (wrangler: `queues resume-delivery`.)"""
    from ..queues import admin

    changed = _act(ctx, queue, (config, env, persist_to), lambda store, _: admin.resume(store, queue))
    if changed:
        click.echo(f'Resumed message delivery for queue "{queue}".')
    else:
        click.echo(f'Queue "{queue}" was not paused.')


queues.add_command(pause, name="pause-delivery")
queues.add_command(resume, name="resume-delivery")


@queues.command()
@click.argument("queue")
@click.option("--yes", "-y", "--force", "yes", is_flag=True, help="Do not ask for confirmation.")
@config_option
@env_option
@persist_option
@click.pass_context
def purge(
    ctx: click.Context, queue: str, yes: bool, config: Path | None, env: str | None, persist_to: Path | None
) -> None:
    """Delete every message of QUEUE, delayed ones included; asks for the queue's name unless --yes."""
    from ..queues import admin

    def confirm_then_purge(store: QueueStore, _: WorkerConfig) -> int:
        if not yes:
            held = store.state(queue).backlog_count
            try:
                answer = click.prompt(
                    f'This will permanently delete the {held} message(s) of queue "{queue}". '
                    f"Type {queue} to proceed",
                    default="",
                    show_default=False,
                    err=True,
                )
            except click.Abort:
                _fail(f"purge asks for the queue name to confirm: type {queue}, or pass --yes")
            if answer.strip() != queue:
                _fail("Incorrect queue name provided. Skipping purge operation")
        return admin.purge(store, queue)

    removed = _act(ctx, queue, (config, env, persist_to), confirm_then_purge)
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
@config_option
@env_option
@persist_option
@click.pass_context
def redrive(
    ctx: click.Context,
    dlq: str,
    target: str | None,
    limit: int | None,
    config: Path | None,
    env: str | None,
    persist_to: Path | None,
) -> None:
    """Move the messages of the dead-letter queue DLQ back to --to QUEUE (same ids, attempts from 1)."""
    from ..clock import SystemClock
    from ..errors import ConfigError
    from ..queues import admin

    def move(store: QueueStore, worker_config: WorkerConfig) -> tuple[str, int]:
        to = target or _source_of(worker_config, dlq)
        if to is None:
            raise ConfigError(
                f'redrive: no consumer in {worker_config.path} names "{dlq}" as its dead_letter_queue; '
                "say where the messages go with --to QUEUE"
            )
        return to, admin.redrive(store, dlq, to, SystemClock().now_ms(), limit=limit)

    to, moved = _act(ctx, dlq, (config, env, persist_to), move)
    click.echo(f'Moved {moved} message(s) from dead-letter queue "{dlq}" back to "{to}".')


# --- helpers --------------------------------------------------------------------------------


def _list_all(config: Path | None, env: str | None, persist_to: Path | None, as_json: bool) -> None:
    from ..clock import SystemClock
    from ..queues import inspector

    worker_config, persist_dir = load_for_command(config, env, persist_to)
    store = _open_store(persist_dir, create=False)
    if store is None:
        return
    try:
        summaries = [
            inspector.summarize(store, name, SystemClock(), retention_s=_retention_s(worker_config, name))
            for name in inspector.queue_names(worker_config, store)
        ]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([vars(s) for s in summaries], indent=2))
    else:
        click.echo(format_rows([_table_row(s) for s in summaries]))


def _inherit(
    ctx: click.Context, config: Path | None, env: str | None, persist_to: Path | None
) -> tuple[Path | None, str | None, Path | None]:
    """The subcommand's -c / --env / --persist-to, else those given before it (`queues -c X pause Q`)."""
    parent = ctx.obj or {}
    return config or parent.get("config"), env or parent.get("env"), persist_to or parent.get("persist_to")


def _act(
    ctx: click.Context,
    queue: str,
    options: tuple[Path | None, str | None, Path | None],
    action: Callable[[QueueStore, WorkerConfig], T],
) -> T:
    """Load the config, open the store (creating it), run ``action`` on it, close it."""
    from ..queues.inspector import queue_names

    worker_config, persist_dir = load_for_command(*_inherit(ctx, *options))
    store = _open_store(persist_dir, create=True)
    assert store is not None
    try:
        if queue not in queue_names(worker_config, store):
            click.echo(
                f'note: queue "{queue}" is not named in {worker_config.path} and holds nothing yet', err=True
            )
        return user_errors(lambda: action(store, worker_config))
    finally:
        store.close()


def _open_store(persist_dir: Path, *, create: bool) -> QueueStore | None:
    from ..queues.store import STORE_FILE_NAME, QueueStore

    if not create and not (persist_dir / STORE_FILE_NAME).is_file():
        click.echo(f"No queue has stored anything yet in {persist_dir}.")
        return None
    return user_errors(lambda: QueueStore.open(persist_dir / STORE_FILE_NAME))


def _retention_s(config: WorkerConfig, queue: str) -> int:
    from .. import limits

    for consumer in config.consumers:
        if consumer.queue == queue:
            return consumer.message_retention_period_s
    return limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S


def _source_of(config: WorkerConfig, dlq: str) -> str | None:
    """The one queue whose consumer dead-letters into ``dlq``, if exactly one does."""
    sources = [c.queue for c in config.consumers if c.dead_letter_queue == dlq]
    return sources[0] if len(sources) == 1 else None


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
