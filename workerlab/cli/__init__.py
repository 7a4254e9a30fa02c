"""The `workerlab` command line. Thin: each command maps its options onto the options object of the
code it runs (``DevOptions`` and ``run()`` for `workerlab dev`), which programs can call too.

Each command lives in a module of this package, imported only when that command runs (or when
``--help`` lists them all), so that `workerlab dev` does not pay for the others.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

#: Each command's name -> the module of this package that adds it to :data:`main`.
COMMAND_MODULES = {"check": "check", "d1": "d1", "dev": "dev", "queues": "queues"}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"{__name__}.{module}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="workerlab")
def main() -> None:
    """Run Cloudflare Workers written in Python on your own machine."""


__all__ = ["COMMAND_MODULES", "main"]
