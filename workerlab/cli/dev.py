"""`workerlab dev`: serve workers locally."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..dev import LOG_LEVELS, DevOptions
from . import main
from .common import env_option, persist_option


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
@env_option
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@persist_option
@click.option(
    "--durable", is_flag=True, help="SQLite synchronous=FULL: survive power loss, not only crashes."
)
@click.option(
    "--test-scheduled", is_flag=True, help="Serve /__scheduled?cron=... to run the scheduled handler."
)
@click.option(
    "--var", "vars_", multiple=True, metavar="KEY:VALUE", help="Add or override a var (repeatable)."
)
@click.option(
    "--binding",
    "bindings",
    multiple=True,
    metavar="NAME=module:factory",
    help="Replace env.NAME with factory() from module (imported from the config's folder): a fake for a "
    "service with no local equivalent (repeatable).",
)
@click.option("--crons/--no-crons", default=True, help="Fire cron triggers on schedule (default: on).")
@click.option("--reload/--no-reload", default=True, help="Reload when the worker's code or config changes.")
@click.option(
    "--inspector/--no-inspector",
    default=True,
    help="Serve the web inspector at /cdn-cgi/workerlab/ (default: on).",
)
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
    bindings: tuple[str, ...],
    crons: bool,
    reload: bool,
    inspector: bool,
    log_level: str,
) -> None:
    """Serve workers locally: HTTP, queues, crons and bindings."""
    from ..dev import run

    options = DevOptions(
        configs=configs,
        env=env,
        ip=ip,
        port=port,
        persist_to=persist_to,
        durable=durable,
        test_scheduled=test_scheduled,
        vars=vars_,
        bindings=bindings,
        crons=crons,
        reload=reload,
        inspector=inspector,
        log_level=log_level,
    )
    sys.exit(run(options))
