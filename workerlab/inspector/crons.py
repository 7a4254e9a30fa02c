"""``GET crons`` and ``POST crons/<worker>/run``: each cron, when it fires next, how its runs went."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..cron_schedule import schedule_of
from .entries import error_document
from .responses import bad_request, json_response, read_json, required_string
from .state import runtime_of, session_of, state_of

#: Upcoming fire times listed per cron.
NEXT_FIRE_TIMES = 5


def next_fire_times_ms(cron: str, after_s: float, count: int = NEXT_FIRE_TIMES) -> list[int]:
    """The next ``count`` times ``cron`` fires after ``after_s`` (epoch s), in ms since the epoch."""
    return list(itertools.islice(schedule_of(cron).times_after(after_s), count))


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


async def list_crons(request: Request) -> Response:
    session = session_of(request)
    runs = state_of(request).cron_runs
    now_s = session.clock.now_s()
    crons = []
    for runtime in session.workers.values():
        for cron in runtime.config.crons:
            upcoming = next_fire_times_ms(cron, now_s)
            crons.append(
                {
                    "worker": runtime.name,
                    "cron": cron,
                    "next": [{"ms": ms, "utc": _iso(ms)} for ms in upcoming],
                    "runs": [
                        {**run, "utc": _iso(run["scheduled_ms"])} for run in runs.of(runtime.name, cron)
                    ],
                }
            )
    return json_response({"now_ms": session.clock.now_ms(), "firing": session.options.crons, "crons": crons})


async def run_cron(request: Request) -> Response:
    """Run the scheduled handler now for one of the worker's crons; answers how it went."""
    runtime = runtime_of(request, request.path_params["worker"])
    cron = required_string(await read_json(request), "cron")
    if cron not in runtime.config.crons:
        configured = ", ".join(f'"{c}"' for c in runtime.config.crons) or "none"
        raise bad_request(f'The worker {runtime.name} has no cron "{cron}" (its crons: {configured})')
    started = time.perf_counter()
    result = await runtime.scheduled(cron, runtime.clock.now_ms())
    return json_response(
        {
            "outcome": result.outcome,
            "duration_ms": (time.perf_counter() - started) * 1000,
            "error": error_document(result.error),
        }
    )


ROUTES = [
    Route("/api/crons", list_crons, methods=["GET"]),
    Route("/api/crons/{worker}/run", run_cron, methods=["POST"]),
]
