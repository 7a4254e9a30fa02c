"""The table of bindings `workerlab dev` prints at start: binding, kind, resource and where it lives."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session

_COLUMNS = ("Binding", "Kind", "Resource", "Mode")


def bindings_table(session: Session) -> str:
    """One block per worker (``<name> has access to the following bindings:``), aligned columns, as
    wrangler prints its own."""
    blocks = []
    for runtime in session.workers.values():
        rows = []
        for spec, kind, site in runtime.bindings:
            resource, mode = kind.describe(spec, site)
            if spec.binding in session.options.overrides:
                resource, mode = "your fake (--binding)", "local"
            name = f"env.{spec.binding}" if spec.binding else "(no binding)"
            rows.append((name, kind.label, resource, mode))
        if not rows:
            blocks.append(f"{runtime.name} has no bindings.")
            continue
        widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(_COLUMNS)]
        lines = [f"{runtime.name} has access to the following bindings:"]
        for row in (_COLUMNS, *rows):
            lines.append(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
