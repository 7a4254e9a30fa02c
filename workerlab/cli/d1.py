"""`workerlab d1`: the local D1 databases (migrations, SQL)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import config_option, env_option, format_rows, load_for_command, persist_option, user_errors


@main.group()
def d1() -> None:
    """Work with the local D1 databases."""


@d1.group()
def migrations() -> None:
    """D1 migrations."""


@migrations.command("apply")
@click.argument("binding")
@config_option
@env_option
@persist_option
def migrations_apply(binding: str, config: Path | None, env: str | None, persist_to: Path | None) -> None:
    """Apply <migrations_dir>/*.sql to the local database, in name order, once each."""
    from ..bindings.d1_commands import apply_migrations

    worker_config, persist_dir = load_for_command(config, env, persist_to)
    applied = user_errors(lambda: apply_migrations(worker_config, binding, persist_dir))
    if applied:
        for name in applied:
            click.echo(f"Applied {name}")
    else:
        click.echo("No migrations to apply.")


@d1.command("execute")
@click.argument("binding")
@click.option("--command", "sql", required=True, help="SQL to run against the local database.")
@config_option
@env_option
@persist_option
def d1_execute(binding: str, sql: str, config: Path | None, env: str | None, persist_to: Path | None) -> None:
    """Run SQL against the local database and print the rows."""
    from ..bindings.d1_commands import execute_sql_tables

    worker_config, persist_dir = load_for_command(config, env, persist_to)
    tables = user_errors(lambda: execute_sql_tables(worker_config, binding, persist_dir, sql))
    click.echo("\n\n".join(format_rows(rows) for rows in tables) if tables else "(no rows)")
