"""SQL text: the statements of a script, and key ranges for prefix queries."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    """One statement of a SQL script, with the line it starts on (1-based)."""

    sql: str
    line: int


def split_sql(script: str) -> list[Statement]:
    """The statements of a script, without empty ones (blank or only comments).

    Semicolons inside strings, quoted names, comments and trigger bodies do not split.
    """
    statements: list[Statement] = []
    start = 0
    has_code = False
    i = 0
    n = len(script)

    def flush(end: int) -> None:
        nonlocal start, has_code
        if has_code:
            text = script[start:end]
            lead = len(text) - len(text.lstrip())
            line = script.count("\n", 0, start + lead) + 1
            statements.append(Statement(text.strip().removesuffix(";").rstrip(), line))
        start = end
        has_code = False

    while i < n:
        ch = script[i]
        if ch == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        if ch == "/" and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if script[j] == close:
                    # A doubled quote inside a string is an escaped quote, not the end.
                    if close != "]" and j + 1 < n and script[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            has_code = True
            i = j + 1
            continue
        if ch == ";":
            if sqlite3.complete_statement(script[start : i + 1]):
                flush(i + 1)
            i += 1
            continue
        if not ch.isspace():
            has_code = True
        i += 1
    flush(n)
    return statements


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so
    ``prefix <= key < prefix_end(prefix)`` selects exactly the keys with that prefix
    and can use the key's index.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates cannot be stored
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None
