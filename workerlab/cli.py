"""The `workerlab` command line. Thin: options map onto DevOptions and the same run() a program calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from . import __version__
from .dev import EXIT_USER_ERROR, LOG_LEVELS, DevOptions

if TYPE_CHECKING:
    from .config import WorkerConfig

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="workerlab")
def main() -> None:
    """Run Cloudflare Workers written in Python on your own machine."""


_config_option = click.option(
    "-c",
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="wrangler.toml / wrangler.json(c); default: discovered in the current directory.",
)
_env_option = click.option("-e", "--env", default=None, help="Use the [env.NAME] section of the config.")
_persist_option = click.option(
    "--persist-to",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory for local state (default: .workerlab/state next to the config).",
)


@main.command()
@click.option(
    "-c",
    "--config",
    "configs",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="wrangler.toml / wrangler.json(c); repeat to run several workers (the first serves HTTP). "
    "Default: discovered in the current directory.",
)
@_env_option
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@_persist_option
@click.option(
    "--durable", is_flag=True, help="SQLite synchronous=FULL: survive power loss, not only crashes."
)
@click.option(
    "--test-scheduled", is_flag=True, help="Serve /__scheduled?cron=... to run the scheduled handler."
)
@click.option(
    "--var", "vars_", multiple=True, metavar="KEY:VALUE", help="Add or override a var (repeatable)."
)
@click.option("--crons/--no-crons", default=True, help="Fire cron triggers on schedule (default: on).")
@click.option("--reload/--no-reload", default=True, help="Reload when the worker's code or config changes.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
def dev(
    configs: tuple[Path, ...],
    env: str | None,
    ip: str,
    port: int,
    persist_to: Path | None,
    durable: bool,
    test_scheduled: bool,
    vars_: tuple[str, ...],
    crons: bool,
    reload: bool,
    log_level: str,
) -> None:
    """Serve workers locally: HTTP, queues, crons and bindings."""
    from .dev import run

    options = DevOptions(
        configs=configs,
        env=env,
        ip=ip,
        port=port,
        persist_to=persist_to,
        durable=durable,
        test_scheduled=test_scheduled,
        vars=vars_,
        crons=crons,
        reload=reload,
        log_level=log_level,
    )
    sys.exit(run(options))


@main.group()
def d1() -> None:
    """Work with the local D1 databases."""


@d1.group()
def migrations() -> None:
    """D1 migrations."""


@migrations.command("apply")
@click.argument("binding")
@_config_option
@_env_option
@_persist_option
def migrations_apply(binding: str, config: Path | None, env: str | None, persist_to: Path | None) -> None:
    """Apply <migrations_dir>/*.sql to the local database, in name order, once each."""
    from .bindings.d1_commands import apply_migrations

    worker_config, persist_dir = _load_for_command(config, env, persist_to)
    applied = _user_errors(lambda: apply_migrations(worker_config, binding, persist_dir))
    if applied:
        for name in applied:
            click.echo(f"Applied {name}")
    else:
        click.echo("No migrations to apply.")


@d1.command("execute")
@click.argument("binding")
@click.option("--command", "sql", required=True, help="SQL to run against the local database.")
@_config_option
@_env_option
@_persist_option
def d1_execute(binding: str, sql: str, config: Path | None, env: str | None, persist_to: Path | None) -> None:
    """Run SQL against the local database and print the rows."""
    from .bindings.d1_commands import execute_sql_tables

    worker_config, persist_dir = _load_for_command(config, env, persist_to)
    tables = _user_errors(lambda: execute_sql_tables(worker_config, binding, persist_dir, sql))
    click.echo("\n\n".join(_format_rows(rows) for rows in tables) if tables else "(no rows)")


@main.command()
@click.argument("queue", required=False)
@_config_option
@_env_option
@_persist_option
@click.option(
    "--limit", type=click.IntRange(0), default=20, show_default=True, help="Messages to list per kind."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def queues(
    queue: str | None,
    config: Path | None,
    env: str | None,
    persist_to: Path | None,
    limit: int,
    as_json: bool,
) -> None:
    """Inspect the local queues: counts of every queue, or the messages of QUEUE (pending and dropped)."""
    import json

    from .clock import SystemClock
    from .queues import inspector
    from .queues.store import STORE_FILE_NAME, QueueStore

    worker_config, persist_dir = _load_for_command(config, env, persist_to)
    if not (persist_dir / STORE_FILE_NAME).is_file():
        click.echo(f"No queue has stored anything yet in {persist_dir}.")
        return
    store = _user_errors(lambda: QueueStore.open(persist_dir / STORE_FILE_NAME))
    try:
        if queue is None:
            summaries = [
                inspector.summarize(store, name, SystemClock())
                for name in inspector.queue_names(worker_config, store)
            ]
            if as_json:
                click.echo(json.dumps([vars(s) for s in summaries], indent=2))
            else:
                click.echo(_format_rows([vars(s) for s in summaries]))
            return
        pending = inspector.first_pending(store, queue, limit)
        dropped = inspector.last_dropped(store, queue, limit)
        summary = inspector.summarize(store, queue, SystemClock())
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
    click.echo(_format_rows([vars(summary)]))
    for title, records in (
        (f"Next {len(pending)} pending", pending),
        (f"Last {len(dropped)} dropped", dropped),
    ):
        click.echo(f"\n{title}:")
        rows = [{**inspector.record_json(r), "body": _short(r.body)} for r in records]
        click.echo(_format_rows(rows))


def _short(body: object, width: int = 60) -> str:
    text = repr(body)
    return text if len(text) <= width else text[: width - 3] + "..."


def _load_for_command(
    config: Path | None, env: str | None, persist_to: Path | None
) -> tuple[WorkerConfig, Path]:
    from .config import default_persist_dir, load_config

    def load() -> tuple[WorkerConfig, Path]:
        loaded = load_config(config, env=env)
        return loaded, persist_to or default_persist_dir(loaded)

    return _user_errors(load)


def _user_errors(action: Callable[[], T]) -> T:
    """Run ``action``; a user error prints one clear line and exits non-zero, without a traceback."""
    from .errors import UserError

    try:
        return action()
    except UserError as error:
        click.echo(f"✘ {error.message}", err=True)
        sys.exit(EXIT_USER_ERROR)


def _format_rows(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[("NULL" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(lines)
