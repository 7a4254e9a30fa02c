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


_local_option = click.option(
    "--local", is_flag=True, help="Use the local database (the only one workerlab has)."
)
_remote_option = click.option("--remote", is_flag=True, hidden=True)


def _refuse_remote(remote: bool) -> None:
    if remote:
        raise click.UsageError(
            "--remote works on Cloudflare's D1, which workerlab does not reach: use wrangler for that "
            "(workerlab's d1 commands work on the local database, as --local does)"
        )


@migrations.command("apply")
@click.argument("binding")
@_local_option
@_remote_option
@config_option
@env_option
@persist_option
def migrations_apply(
    binding: str, local: bool, remote: bool, config: Path | None, env: str | None, persist_to: Path | None
) -> None:
    """Apply <migrations_dir>/*.sql to the local database, in name order, once each."""
    from ..bindings.d1_commands import apply_migrations

    _refuse_remote(remote)
    worker_config, persist_dir = load_for_command(config, env, persist_to)
    applied = user_errors(lambda: apply_migrations(worker_config, binding, persist_dir))
    if applied:
        for name in applied:
            click.echo(f"Applied {name}")
    else:
        click.echo("No migrations to apply.")


@d1.command("execute")
@click.argument("binding")
@click.option("--command", "sql", default=None, help="SQL to run against the local database.")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A .sql file to run instead of --command.",
)
@click.option("--json", "as_json", is_flag=True, help="Print wrangler's JSON results instead of tables.")
@_local_option
@_remote_option
@config_option
@env_option
@persist_option
def d1_execute(
    binding: str,
    sql: str | None,
    file: Path | None,
    as_json: bool,
    local: bool,
    remote: bool,
    config: Path | None,
    env: str | None,
    persist_to: Path | None,
) -> None:
    """Run SQL (--command or --file) against the local database and print the rows."""
    import json

    from ..bindings.d1_commands import execute_statements

    _refuse_remote(remote)
    if (sql is None) == (file is None):
        raise click.UsageError("give the SQL with exactly one of --command SQL or --file PATH")
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise click.UsageError(f"--file {file}: cannot read it as UTF-8 text ({error})") from None
    assert sql is not None
    text = sql
    worker_config, persist_dir = load_for_command(config, env, persist_to)
    results = user_errors(lambda: execute_statements(worker_config, binding, persist_dir, text))
    if as_json:
        click.echo(json.dumps([result.d1_result() for result in results], indent=2, default=str))
        return
    tables = [[dict(zip(r.columns, row, strict=True)) for row in r.rows] for r in results if r.columns]
    click.echo("\n\n".join(format_rows(rows) for rows in tables) if tables else "(no rows)")
