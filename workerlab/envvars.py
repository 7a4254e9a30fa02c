"""Where the var part of ``env`` comes from besides ``[vars]``: ``.dev.vars`` / ``.env`` files
(chosen as wrangler chooses them, read with python-dotenv) and ``--var KEY:VALUE`` flags, and how
they combine."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config.files import display_path
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import WorkerConfig


def merged_vars(config: WorkerConfig, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The var part of ``env``: ``[vars]``, then dev vars, then ``extra`` (later wins)."""
    return {**config.vars, **load_dev_vars(config), **(extra or {})}


def load_dev_vars(config: WorkerConfig) -> dict[str, str]:
    """Secrets for local development, from files next to the config, as wrangler reads them.

    ``.dev.vars.<env>`` (when an environment is selected and the file exists), else ``.dev.vars``.
    Without either, every ``.env`` file that exists is merged, most specific last:
    ``.env``, ``.env.<env>``, ``.env.local``, ``.env.<env>.local``.
    """
    root, env = config.root, config.env_name
    dev_vars = [root / f".dev.vars.{env}"] if env else []
    for candidate in [*dev_vars, root / ".dev.vars"]:
        if candidate.is_file():
            return read_dotenv(candidate)
    names = [".env", f".env.{env}", ".env.local", f".env.{env}.local"] if env else [".env", ".env.local"]
    values: dict[str, str] = {}
    for name in names:
        if (root / name).is_file():
            values.update(read_dotenv(root / name))
    return values


def parse_var_flags(values: Sequence[str]) -> dict[str, str]:
    """``--var KEY:VALUE`` flags -> dict, split at the first colon (later flags win)."""
    result: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition(":")
        if not sep or not key:
            raise ConfigError(f"--var must be KEY:VALUE, found {json.dumps(value)}")
        result[key] = rest
    return result


# python-dotenv reports each statement it cannot parse as a WARNING record on this logger, with the
# statement's first line number as the record's one argument, and then skips the statement.
_DOTENV_LOGGER = "dotenv.main"
_unparsed: ContextVar[list[logging.LogRecord] | None] = ContextVar("workerlab_dotenv_unparsed", default=None)
# Line breaks as python-dotenv counts them.
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_QUOTED_VALUE = re.compile(r"""\s*(?:export\s+)?(?:'[^']+'|[^=#\s]+)\s*=\s*(["'])""")


class _TakeUnparsed(logging.Filter):
    """Takes python-dotenv's records while read_dotenv() collects them (in its own thread or task);
    any other use of python-dotenv logs as usual."""

    def filter(self, record: logging.LogRecord) -> bool:
        collected = _unparsed.get()
        if collected is None:
            return True
        collected.append(record)
        return False


_TAKE_UNPARSED = _TakeUnparsed()


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a ``.dev.vars`` / ``.env`` file, parsed by python-dotenv (no ``${VAR}``
    expansion). A statement it cannot parse, or a name without ``=``, is a ConfigError."""
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read the file: {exc}") from None
    logging.getLogger(_DOTENV_LOGGER).addFilter(_TAKE_UNPARSED)  # once: addFilter skips a known one
    unparsed: list[logging.LogRecord] = []
    token = _unparsed.set(unparsed)
    try:
        from dotenv import dotenv_values  # only when a file is there to read

        parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    finally:
        _unparsed.reset(token)
    lines = _LINE_BREAK.split(text)
    problems = [_unparsed_line(display, lines, record) for record in unparsed]
    values: dict[str, str] = {}
    for key, value in parsed.items():
        if value is None:
            problems.append(_bare_name_line(display, lines, key))
        else:
            values[key] = value
    if problems:
        number = min(problems)
        line = lines[number - 1]
        raise ConfigError(
            f"{display}: line {number} must be {_expected(lines, number)}, found {json.dumps(line)}"
        )
    return values


def _unparsed_line(display: str, lines: list[str], record: logging.LogRecord) -> int:
    args = record.args
    if not (isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], int)):
        raise ConfigError(f"{display}: {record.getMessage()}")
    number = args[0]
    # python-dotenv counts the blank lines before a statement as its start: skip them.
    while number < len(lines) and not lines[number - 1].strip():
        number += 1
    return number


def _bare_name_line(display: str, lines: list[str], name: str) -> int:
    """The line of ``name`` written alone (python-dotenv reads it as a name without a value)."""
    escaped = re.escape(name)
    alone = re.compile(rf"\s*(?:export\s+)?(?:{escaped}|'{escaped}')\s*(?:#.*)?")
    for number, line in enumerate(lines, start=1):
        if alone.fullmatch(line):
            return number
    raise ConfigError(f"{display}: {name} has no value: expected {name}=VALUE")


def _expected(lines: list[str], number: int) -> str:
    """What the statement starting at line ``number`` should have looked like."""
    quoted = _QUOTED_VALUE.match(lines[number - 1])
    if quoted is None:
        return "KEY=VALUE"
    quote = quoted.group(1)
    closing = re.compile(rf"(?:\\.|[^\\{quote}])*{quote}", re.DOTALL)
    if closing.match("\n".join(lines[number - 1 :]), quoted.end()) is None:
        return f"KEY=VALUE with the {quote} quote closed"
    return "KEY=VALUE with nothing but a # comment after the quote"
