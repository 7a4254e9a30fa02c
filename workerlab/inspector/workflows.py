"""Workflow routes: each workflow with its instances by status, one instance's step history, and
the instance actions (pause, resume, terminate, restart)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..workflows import InstanceRecord, WorkflowEngine, WorkflowError
from .responses import ApiError, json_response, jsonable, not_found, preview
from .state import record_action, session_of

#: What an instance can be told to do from the page.
ACTIONS = ("pause", "resume", "terminate", "restart")


def _engine(request: Request) -> WorkflowEngine | None:
    return session_of(request).workflows


def _workflow(request: Request) -> tuple[WorkflowEngine, str]:
    engine = _engine(request)
    name = request.path_params["workflow"]
    if engine is None or not engine.has(name):
        raise not_found(f"No workflow named {name!r} is loaded")
    return engine, name


def _summary(record: InstanceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status,
        "steps": len(record.steps),
        "params": preview(record.params),
        "error": record.error,
    }


async def list_workflows(request: Request) -> Response:
    engine = _engine(request)
    if engine is None:
        return json_response({"workflows": []})
    workflows = []
    for name in engine.names:
        counts = Counter(record.status for record in engine.instances(name))
        workflows.append({"name": name, "instances": sum(counts.values()), "by_status": dict(counts)})
    return json_response({"workflows": workflows})


async def list_instances(request: Request) -> Response:
    engine, name = _workflow(request)
    records = engine.instances(name)
    return json_response({"instances": [_summary(record) for record in reversed(records)]})


def _instance(request: Request) -> tuple[WorkflowEngine, str, InstanceRecord]:
    engine, name = _workflow(request)
    instance_id = request.path_params["instance_id"]
    for record in engine.instances(name):
        if record.id == instance_id:
            return engine, name, record
    raise not_found(f"The workflow {name} has no instance {instance_id!r}")


async def show_instance(request: Request) -> Response:
    _, _, record = _instance(request)
    document = jsonable(asdict(record))
    return json_response(document)


async def act(request: Request) -> Response:
    engine, name, record = _instance(request)
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise not_found(f"Instances can be told to {', '.join(ACTIONS)}; found {action!r}")
    instance = await engine.binding(name).get(record.id)
    try:
        await getattr(instance, action)()
    except WorkflowError as error:
        raise ApiError(409, "workflow-state", str(error)) from None
    record_action(request, f"{action.capitalize()} {name} instance {record.id}", "workflows")
    return json_response({"status": (await instance.status())["status"]})


ROUTES = [
    Route("/api/workflows", list_workflows, methods=["GET"]),
    Route("/api/workflows/{workflow}/instances", list_instances, methods=["GET"]),
    Route("/api/workflows/{workflow}/instances/{instance_id}", show_instance, methods=["GET"]),
    Route("/api/workflows/{workflow}/instances/{instance_id}/{action}", act, methods=["POST"]),
]
