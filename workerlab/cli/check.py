"""`workerlab check`: load workers without serving them and say what would differ on Cloudflare."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from . import main
from .common import env_option, user_errors


@main.command()
@click.option(
    "-c",
    "--config",
    "configs",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="wrangler.toml / wrangler.json(c) (repeatable); default: discovered in the current directory.",
)
@env_option
def check(configs: tuple[Path, ...], env: str | None) -> None:
    """Report, one line each, what would behave differently on Cloudflare (exit 1 if anything)."""
    from ..config import load_config
    from ..loader import load_worker
    from ..portability import config_differences, handler_differences, watching_import_time_work

    findings: list[str] = []
    paths: list[Path | None] = [*configs] or [None]
    for path in paths:
        config = user_errors(partial(load_config, path, env=env))
        import_time: list[str] = []
        with watching_import_time_work(config.main.parent, import_time):
            worker = user_errors(partial(load_worker, config.main, config.name))
        try:
            findings += handler_differences(config, worker) + import_time + config_differences(config)
        finally:
            worker.unload()
    for finding in findings:
        click.echo(f"- {finding}")
    if findings:
        click.echo(f"\n{len(findings)} difference(s) from Cloudflare.")
        sys.exit(1)
    click.echo("Nothing found that would behave differently on Cloudflare.")
