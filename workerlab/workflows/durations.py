"""Workflow durations: ``"10 seconds"``, ``"1 hour"``, ``"2 days"`` or a number of milliseconds.

Cloudflare types a duration as ``WorkflowSleepDuration``: ``"<number> <unit>"`` with a unit of
second, minute, hour, day, week, month or year (singular or plural), or a number of
milliseconds. Sleeps, retry delays, step timeouts and wait_for_event timeouts all take one.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import WorkflowError

_SECOND_MS = 1000
_DAY_MS = 86_400 * _SECOND_MS

#: Milliseconds per unit of a duration string (Cloudflare's WorkflowDurationLabel); a month is
#: 30 days and a year 365 days, as the ``ms()`` parser Cloudflare's engine uses counts them.
UNIT_MS: dict[str, int] = {
    "second": _SECOND_MS,
    "minute": 60 * _SECOND_MS,
    "hour": 3_600 * _SECOND_MS,
    "day": _DAY_MS,
    "week": 7 * _DAY_MS,
    "month": 30 * _DAY_MS,
    "year": 365 * _DAY_MS,
}

_DURATION = re.compile(r"\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[a-zA-Z]+)\s*")


def duration_ms(value: Any, where: str) -> int:
    """``value`` (a duration string or milliseconds) as whole milliseconds, rounded up.

    ``where`` names the argument in the error message, e.g. ``'step.sleep("nap") duration'``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WorkflowError(
            f'{where}: expected a duration such as "10 seconds" or a number of milliseconds, '
            f"found {type(value).__name__} {value!r}"
        )
    if isinstance(value, str):
        return _parse(value, where)
    if not math.isfinite(value) or value < 0:
        raise WorkflowError(f"{where}: expected milliseconds >= 0, found {value!r}")
    return math.ceil(value)


def _parse(text: str, where: str) -> int:
    match = _DURATION.fullmatch(text)
    unit = match.group("unit").lower() if match else ""
    if unit.endswith("s") and unit[:-1] in UNIT_MS:
        unit = unit[:-1]
    if match is None or unit not in UNIT_MS:
        units = ", ".join(UNIT_MS)
        raise WorkflowError(
            f'{where}: cannot read {text!r} as a duration; expected "<number> <unit>" with a unit of '
            f'{units} (singular or plural), e.g. "10 seconds", or a number of milliseconds'
        )
    return math.ceil(float(match.group("number")) * UNIT_MS[unit])
