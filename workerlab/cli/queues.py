"""`workerlab queues`: what the local queues hold, read from the persist directory."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import config_option, env_option, format_rows, load_for_command, persist_option, user_errors


@main.command()
@click.argument("queue", required=False)
@config_option
@env_option
@persist_option
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

    from ..clock import SystemClock
    from ..queues import inspector
    from ..queues.store import STORE_FILE_NAME, QueueStore

    worker_config, persist_dir = load_for_command(config, env, persist_to)
    if not (persist_dir / STORE_FILE_NAME).is_file():
        click.echo(f"No queue has stored anything yet in {persist_dir}.")
        return
    store = user_errors(lambda: QueueStore.open(persist_dir / STORE_FILE_NAME))
    try:
        if queue is None:
            summaries = [
                inspector.summarize(store, name, SystemClock())
                for name in inspector.queue_names(worker_config, store)
            ]
            if as_json:
                click.echo(json.dumps([vars(s) for s in summaries], indent=2))
            else:
                click.echo(format_rows([vars(s) for s in summaries]))
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
    click.echo(format_rows([vars(summary)]))
    for title, records in (
        (f"Next {len(pending)} pending", pending),
        (f"Last {len(dropped)} dropped", dropped),
    ):
        click.echo(f"\n{title}:")
        rows = [{**inspector.record_json(r), "body": _short(r.body)} for r in records]
        click.echo(format_rows(rows))


def _short(body: object, width: int = 60) -> str:
    text = repr(body)
    return text if len(text) <= width else text[: width - 3] + "..."
