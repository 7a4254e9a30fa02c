"""Reading values out of one config file, with errors that say where, what was expected and what was found.

Every section of a wrangler config (the top level, each binding kind, the triggers) reads its
values through a :class:`ConfigSource`, so that every config error is worded the same way.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

logger = logging.getLogger("workerlab")

#: Stands for a key that is absent (None is JSON's null, a value of its own).
MISSING: Any = object()


def join(prefix: str, key: str) -> str:
    """A key path: ``queues`` + ``consumers`` -> ``queues.consumers``."""
    return f"{prefix}.{key}" if prefix else key


def keys(words: str) -> frozenset[str]:
    """A set of config keys from a whitespace-separated list."""
    return frozenset(words.split())


class ConfigSource:
    """One config file being read (``fmt`` is ``"TOML"`` or ``"JSON"``)."""

    #: As a default: the value is required (same as giving no default).
    REQUIRED: Any = MISSING

    def __init__(self, path: Path, display: str, fmt: str) -> None:
        self.path = path
        self.display = display
        self.fmt = fmt
        self.table = "table" if fmt == "TOML" else "object"
        self.a_table = "a table" if fmt == "TOML" else "an object"

    @property
    def root(self) -> Path:
        """The config file's folder: relative paths in it are relative to this."""
        return self.path.parent

    def describe(self, value: Any) -> str:
        """``value`` as the user wrote it, for "found ..." in a message."""
        if value is MISSING:
            return "nothing"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, dict):
            return self.a_table
        if isinstance(value, list):
            return "an array"
        if isinstance(value, dt.date | dt.time):
            return f"the {type(value).__name__} {value.isoformat()}"
        return type(value).__name__

    def error(self, key: str, expected: str, found: Any, note: str = "") -> ConfigError:
        suffix = f" ({note})" if note else ""
        return ConfigError(f"{self.display}: {key} must be {expected}, found {self.describe(found)}{suffix}")

    def check_keys(self, table: Mapping[str, Any], prefix: str, known: frozenset[str]) -> None:
        """Warn about each key of ``table`` not in ``known`` (with the closest known one as a hint)."""
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {join(prefix, close[0])}?)" if close else ""
                logger.warning("%s: unknown key %s ignored%s", self.display, join(prefix, key), hint)

    def table_at(self, value: Any, key: str) -> dict[str, Any]:
        if value is MISSING:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, self.a_table, value)
        return value

    def tables_at(self, value: Any, key: str) -> list[tuple[dict[str, Any], str]]:
        """An array of tables, each with its key path (``queues.consumers[0]``)."""
        if value is MISSING:
            return []
        expected = f"an array of {self.table}s" + (f" ([[{key}]])" if self.fmt == "TOML" else "")
        if not isinstance(value, list):
            raise self.error(key, expected, value)
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", self.a_table, item)
            items.append((item, f"{key}[{index}]"))
        return items

    def entries(self, value: Any, key: str, known: frozenset[str]) -> list[tuple[dict[str, Any], str]]:
        """An array of tables whose unknown keys are warned about, each with its key path."""
        items = self.tables_at(value, key)
        for item, item_key in items:
            self.check_keys(item, item_key, known)
        return items

    def string(self, table: Mapping[str, Any], name: str, prefix: str, default: Any = MISSING) -> Any:
        """A non-empty string at ``name`` (``default`` when absent, if one is given)."""
        value = table.get(name, MISSING)
        if value is MISSING and default is not MISSING:
            return default
        if not isinstance(value, str) or not value:
            raise self.error(join(prefix, name), "a non-empty string", value)
        return value

    def boolean(self, table: Mapping[str, Any], name: str, prefix: str, default: bool) -> bool:
        value = table.get(name, MISSING)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            raise self.error(join(prefix, name), "true or false", value)
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        """An array of strings (none when absent)."""
        if value is MISSING:
            return ()
        if not isinstance(value, list):
            raise self.error(key, "an array of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{index}]", "a string", item)
        return tuple(value)

    def number(
        self,
        table: Mapping[str, Any],
        name: str,
        prefix: str,
        low: float,
        high: float,
        default: float,
        *,
        whole: bool = True,
    ) -> Any:
        """An int (``whole``) or a number of seconds from ``low`` to ``high``; bool is neither."""
        value = table.get(name, MISSING)
        if value is MISSING:
            return default
        kinds = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            what = "an integer" if whole else "a number of seconds"
            raise self.error(join(prefix, name), f"{what} from {_number(low)} to {_number(high)}", value)
        return value if whole else float(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
