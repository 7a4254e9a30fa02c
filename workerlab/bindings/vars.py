"""``[vars]``: plain values on ``env`` (``.dev.vars`` files and ``--var`` flags override them)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..config.schema import Var
from ..config.source import ConfigSource

if TYPE_CHECKING:
    from .registry import BindingSite, Mode

#: Longest value shown in the start-up bindings table.
_SHOWN_CHARS = 40


class _VarsKind:
    section = "vars"
    label = "Environment Variable"
    spec = Var

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[Var, str]]:
        table = src.table_at(value, key)

        def check(item: Any, item_key: str) -> None:
            if isinstance(item, dict):
                for name, inner in item.items():
                    check(inner, f"{item_key}.{name}")
            elif isinstance(item, list):
                for index, inner in enumerate(item):
                    check(inner, f"{item_key}[{index}]")
            elif not isinstance(item, str | int | float):  # bool is an int
                raise src.error(item_key, f"a string, number, boolean, array or {src.table}", item)

        check(table, key)
        return [(Var(name, item), f"{key}.{name}") for name, item in table.items()]

    async def open(self, spec: Var, site: BindingSite) -> Any:
        return spec.value

    def describe(self, spec: Var, site: BindingSite) -> tuple[str, Mode]:
        shown = spec.value if isinstance(spec.value, str) else json.dumps(spec.value)
        if len(shown) > _SHOWN_CHARS:
            shown = shown[: _SHOWN_CHARS - 3] + "..."
        return f'"{shown}"' if isinstance(spec.value, str) else shown, "local"


KIND = _VarsKind()
