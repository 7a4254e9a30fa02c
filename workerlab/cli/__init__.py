"""The `workerlab` command line. Thin: each command maps its options onto the options object of the
code it runs (``DevOptions`` and ``run()`` for `workerlab dev`), which programs can call too."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="workerlab")
def main() -> None:
    """Run Cloudflare Workers written in Python on your own machine."""


from . import check, d1, dev, queues  # noqa: E402  (each module adds its commands to main)

__all__ = ["check", "d1", "dev", "main", "queues"]
