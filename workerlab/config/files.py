"""Config and dotenv text -> Python values, with errors that point at the line (and column)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def display_path(path: Path, cwd: Path | None = None) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(cwd or Path.cwd()))
    except (ValueError, OSError):  # outside it, or the working folder is gone
        return str(path)


def parse_error(display: str, fmt: str, text: str, line: int, column: int | None, reason: str) -> ConfigError:
    where = f"line {line}" + (f", column {column}" if column is not None else "")
    lines = text.splitlines()
    found = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    shown = json.dumps(found[:80] + ("..." if len(found) > 80 else ""), ensure_ascii=False)
    return ConfigError(f"{display}: invalid {fmt} at {where}: {reason}; found {shown}")


def read_text(path: Path, display: str, fmt: str) -> str:
    """The text of a config file, which must be UTF-8 (a leading byte-order mark is allowed)."""
    data = path.read_bytes()
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line_start = before.rfind(b"\n") + 1
        line = before.count(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", "replace")) + 1
        text = data.decode("utf-8", "replace")
        reason = f"the file must be UTF-8, but byte 0x{data[exc.start]:02x} is not (save it as UTF-8)"
        raise parse_error(display, fmt, text, line, column, reason) from None


def parse_toml(text: str, display: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if match is None:  # "(at end of document)"
            reason = message.removesuffix(" (at end of document)") + " at the end of the file"
            raise parse_error(display, "TOML", text, len(text.splitlines()) or 1, None, reason) from None
        reason = message[: match.start()]
        raise parse_error(display, "TOML", text, int(match[1]), int(match[2]), reason) from None


def strip_jsonc(text: str, display: str) -> str:
    """JSONC -> JSON: comments and trailing commas become spaces, so line/column stay true."""
    out = list(text)
    i, n = 0, len(text)
    in_string = False
    last_comma = -1  # position of a comma that may turn out to be trailing
    while i < n:
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string, last_comma = True, -1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                raise parse_error(display, "JSON", text, line, None, "a /* comment is never closed")
            for j in range(i, end + 2):
                if out[j] != "\n":
                    out[j] = " "
            i = end + 2
            continue
        elif char == ",":
            last_comma = i
        elif char in "]}":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not char.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def parse_json(text: str, display: str) -> Any:
    try:
        return json.loads(strip_jsonc(text, display))
    except json.JSONDecodeError as exc:
        raise parse_error(display, "JSON", text, exc.lineno, exc.colno, exc.msg) from None
