"""What the commands share: the -c / --env / --persist-to options, loading a config, user errors, tables."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from ..errors import EXIT_USER_ERROR

if TYPE_CHECKING:
    from ..config import WorkerConfig

T = TypeVar("T")

config_option = click.option(
    "-c",
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="wrangler.toml / wrangler.json(c); default: discovered in the current directory.",
)
env_option = click.option("-e", "--env", default=None, help="Use the [env.NAME] section of the config.")
persist_option = click.option(
    "--persist-to",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory for local state (default: .workerlab/state next to the config).",
)


def load_for_command(
    config: Path | None, env: str | None, persist_to: Path | None
) -> tuple[WorkerConfig, Path]:
    from ..config import default_persist_dir, load_config

    def load() -> tuple[WorkerConfig, Path]:
        loaded = load_config(config, env=env)
        return loaded, persist_to or default_persist_dir(loaded)

    return user_errors(load)


def user_errors(action: Callable[[], T]) -> T:
    """Run ``action``; a user error prints one clear line and exits non-zero, without a traceback."""
    from ..errors import UserError

    try:
        return action()
    except UserError as error:
        click.echo(f"✘ {error.message}", err=True)
        sys.exit(EXIT_USER_ERROR)


def format_rows(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[("NULL" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(lines)
