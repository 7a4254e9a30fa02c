"""Where the var part of ``env`` comes from besides ``[vars]``: ``.dev.vars`` / ``.env`` files
(read with the dotenv rules wrangler uses) and ``--var KEY:VALUE`` flags, and how they combine."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config.files import display_path
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import WorkerConfig


def merged_vars(config: WorkerConfig, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
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


_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def read_dotenv(path: Path) -> dict[str, str]:
    display = display_path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read the file: {exc}") from None

    def malformed(number: int, text: str, expected: str = "KEY=VALUE") -> ConfigError:
        return ConfigError(f"{display}: line {number} must be {expected}, found {json.dumps(text)}")

    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("export "):
            text = text[len("export ") :].lstrip()
        key, sep, rest = text.partition("=")
        key = key.strip()
        if not sep or not _DOTENV_KEY.fullmatch(key):
            raise malformed(number, line)
        rest = rest.strip()
        if rest[:1] in ("'", '"', "`"):
            quote, body = rest[0], rest[1:]
            end = _closing_quote(body, quote)
            while end < 0:  # a quoted value may span lines
                if index >= len(lines):
                    raise malformed(number, line, f"KEY=VALUE with the {quote} quote closed")
                body += "\n" + lines[index]
                index += 1
                end = _closing_quote(body, quote)
            tail = body[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                raise malformed(number, line, "KEY=VALUE with nothing but a # comment after the quote")
            value = body[:end]
            if quote == '"':  # as the dotenv package does: only \n and \r are escapes
                value = value.replace("\\n", "\n").replace("\\r", "\r")
        else:
            value = rest.split("#", 1)[0].strip()
        values[key] = value
    return values


def _closing_quote(body: str, quote: str) -> int:
    index = 0
    while index < len(body):
        if body[index] == "\\":
            index += 2
            continue
        if body[index] == quote:
            return index
        index += 1
    return -1
