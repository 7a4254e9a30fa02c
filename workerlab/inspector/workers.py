"""``GET workers``: the loaded workers, their handlers and their bindings (as the start-up table)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..runtime import Runtime
from .responses import json_response
from .state import session_of


def worker_document(runtime: Runtime, *, primary: bool, overridden: frozenset[str]) -> dict[str, object]:
    bindings = []
    for spec, kind, site in runtime.bindings:
        resource, mode = kind.describe(spec, site)
        bindings.append(
            {
                "binding": spec.binding,
                "kind": kind.label,
                "resource": resource,
                "mode": mode,
                # Replaced by a value given with --binding (or the harness's bindings=).
                "overridden": spec.binding in overridden,
            }
        )
    config = runtime.config
    return {
        "name": runtime.name,
        "primary": primary,
        "config": str(config.path),
        "main": str(config.main),
        "compatibility_date": config.compatibility_date,
        "handlers": sorted(runtime.worker.invokers),
        "bindings": bindings,
        "crons": list(config.crons),
        "consumers": [
            {
                "queue": consumer.queue,
                "max_batch_size": consumer.max_batch_size,
                "max_batch_timeout_s": consumer.max_batch_timeout_s,
                "max_retries": consumer.max_retries,
                "retry_delay_s": consumer.retry_delay_s,
                "dead_letter_queue": consumer.dead_letter_queue,
                "max_concurrency": consumer.max_concurrency,
                "type": consumer.type,
            }
            for consumer in config.consumers
        ],
    }


async def list_workers(request: Request) -> Response:
    session = session_of(request)
    overridden = frozenset(session.options.overrides)
    primary = session.primary
    workers = [
        worker_document(runtime, primary=runtime is primary, overridden=overridden)
        for runtime in session.workers.values()
    ]
    return json_response({"workers": workers})


ROUTES = [Route("/api/workers", list_workers, methods=["GET"])]
