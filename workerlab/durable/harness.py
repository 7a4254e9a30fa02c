"""What tests do to Durable Objects beyond what a worker can (``cloudflare:test`` mirrors)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .ids import DurableObjectId
from .namespace import DurableObjectNamespace, DurableObjectStub
from .state import DurableObjectState


def _stub(stub: Any, call: str) -> DurableObjectStub:
    if not isinstance(stub, DurableObjectStub):
        raise TypeError(
            f"{call} expects a Durable Object stub (env.BINDING.get(id) or getByName(name)), "
            f"found {type(stub).__name__}"
        )
    return stub


async def run_in_durable_object(stub: Any, fn: Callable[[Any, DurableObjectState], Any]) -> Any:
    """Call ``fn(instance, ctx)`` inside the object (through its input gate, constructing it if
    needed) and return its result; ``fn`` may be async. Its exception is raised as is."""
    target = _stub(stub, "run_in_durable_object()")

    async def work(instance: Any, state: DurableObjectState) -> Any:
        result = fn(instance, state)
        if inspect.isawaitable(result):
            result = await result
        return result

    return await target._objects.run(target.id, work)


async def run_durable_object_alarm(stub: Any) -> bool:
    """Run the object's alarm now if one is set, and remove it (a failure is not retried; its
    exception is raised). Return whether an alarm ran."""
    target = _stub(stub, "run_durable_object_alarm()")
    book = target._objects.book
    object_id = target.id.toString()
    alarm = book.find(object_id)
    if alarm is None or book.is_running(object_id):
        return False
    error = await book.run(alarm, retry=False)
    if error is not None:
        raise error
    return True


def list_durable_object_ids(namespace: Any) -> list[DurableObjectId]:
    """The ids of the namespace's objects that were constructed or stored anything, in id order
    (with their names where known)."""
    if not isinstance(namespace, DurableObjectNamespace):
        raise TypeError(
            f"list_durable_object_ids() expects a Durable Object namespace binding (env.BINDING), "
            f"found {type(namespace).__name__}"
        )
    objects = namespace.objects
    names: dict[str, str | None] = {}
    for object_id in objects.stored_ids():
        names.setdefault(object_id, None)
    for object_id, name in objects.book.object_ids():
        if names.get(object_id) is None:
            names[object_id] = name
    for live in objects.live_ids():
        if names.get(live.toString()) is None:
            names[live.toString()] = live.name
    return [
        DurableObjectId(object_id, names[object_id])
        for object_id in sorted(names)
        if namespace.belongs(object_id)
    ]
