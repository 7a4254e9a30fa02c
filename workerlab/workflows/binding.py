"""``env.<BINDING>`` of a workflow and the instance handles it returns, with Cloudflare's names.

Every method is a coroutine, as in Cloudflare's Python SDK. Options are passed as a dict or as
keyword arguments (``create(id="a", params={...})`` is ``create({"id": "a", "params": {...}})``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..bindings.results import JsObject, merge_options
from .errors import WorkflowError
from .records import STEP_TYPES
from .values import encode_value

if TYPE_CHECKING:
    from .control import InstanceControl

#: Longest instance id (Cloudflare Workflows: 100 characters).
MAX_INSTANCE_ID_LENGTH = 100
#: What an instance id may hold (Cloudflare Workflows: a letter, digit or _ first, then also -).
INSTANCE_ID_PATTERN = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_-]*")
#: Most instances in one create_batch (Cloudflare Workflows: 100).
MAX_BATCH_INSTANCES = 100

_CREATE_OPTIONS = ("id", "params", "retention", "locationHint")
_EVENT_OPTIONS = ("type", "payload")
#: A step type as restart(from=) names it -> the kind the store keys steps by.
_STEP_KINDS = {step_type: kind for kind, step_type in STEP_TYPES.items()}


class WorkflowBinding:
    """The binding of one workflow: ``create``, ``create_batch`` (alias ``createBatch``), ``get``."""

    def __init__(self, control: InstanceControl, workflow: str) -> None:
        self._control = control
        self._workflow = workflow

    async def create(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> WorkflowInstance:
        """A new queued instance; ``id`` is generated when not given, ``params`` is its
        ``event.payload``. An id already in use is an error."""
        (instance,) = self._create([self._options(options, kwargs, "create()")])
        return instance

    async def create_batch(self, batch: Any) -> list[WorkflowInstance]:
        """Create up to 100 instances at once, all or none (each item: ``{"id"?, "params"?}``)."""
        if isinstance(batch, Mapping | str | bytes) or not hasattr(batch, "__iter__"):
            raise WorkflowError(
                f'workflow "{self._workflow}" create_batch(): expected a list of {{"id", "params"}} dicts, '
                f"found {type(batch).__name__}"
            )
        items = list(batch)
        if not 1 <= len(items) <= MAX_BATCH_INSTANCES:
            raise WorkflowError(
                f'workflow "{self._workflow}" create_batch(): expected 1 to {MAX_BATCH_INSTANCES} '
                f"instances, found {len(items)}"
            )
        return self._create(
            [self._options(item, {}, f"create_batch() item {index}") for index, item in enumerate(items)]
        )

    createBatch = create_batch

    async def deleteBatch(self, ids: Any) -> JsObject:
        """Delete up to 100 instances by id: ``{deleted: [{id}], errors: [{id, code, message}]}``
        (Cloudflare's JS name: the Python SDK reaches it through its generic wrapper)."""
        where = f'workflow "{self._workflow}" deleteBatch()'
        if isinstance(ids, str | bytes | Mapping) or not hasattr(ids, "__iter__"):
            raise WorkflowError(f"{where}: expected a list of instance ids, found {type(ids).__name__}")
        ids = list(ids)
        if len(ids) > MAX_BATCH_INSTANCES:
            raise WorkflowError(f"{where}: expected at most {MAX_BATCH_INSTANCES} ids, found {len(ids)}")
        deleted, errors = [], []
        for id in ids:
            try:
                await self._control.delete(self._control.row(self._workflow, _check_id(id, where)))
            except WorkflowError as error:
                errors.append(JsObject(id=id, code=_error_code(error), message=str(error)))
            else:
                deleted.append(JsObject(id=id))
        return JsObject(deleted=deleted, errors=errors)

    async def get(self, id: str) -> WorkflowInstance:
        """The instance ``id``; an error when there is none."""
        self._control.row(self._workflow, _check_id(id, f'workflow "{self._workflow}" get()'))
        return WorkflowInstance(self._control, self._workflow, id)

    def _options(self, options: Any, kwargs: Mapping[str, Any], where: str) -> tuple[str, bytes]:
        label = f'workflow "{self._workflow}" {where}'
        merged = merge_options(label, options, kwargs, _CREATE_OPTIONS)
        id = merged.get("id")
        id = str(uuid.uuid4()) if id is None else _check_id(id, label)
        params = merged.get("params", {})
        return id, encode_value(params, f"{label}: params")

    def _create(self, instances: list[tuple[str, bytes]]) -> list[WorkflowInstance]:
        self._control.create(self._workflow, instances)
        return [WorkflowInstance(self._control, self._workflow, id) for id, _ in instances]

    def __repr__(self) -> str:
        return f"<Workflow binding {self._workflow!r}>"


class WorkflowInstance:
    """A handle on one instance: ``id``, ``status()``, ``pause()``, ``resume()``, ``terminate()``,
    ``restart()``, ``send_event(type=, payload=)`` (alias ``sendEvent``)."""

    def __init__(self, control: InstanceControl, workflow: str, id: str) -> None:
        self._control = control
        self._workflow = workflow
        self.id = id

    async def status(self) -> JsObject:
        """``{status, output?, error?}``: ``output`` once complete, ``error`` (``{name, message}``)
        once errored."""
        return self._control.status(self._row())

    async def pause(self) -> None:
        self._control.pause(self._row())

    async def resume(self) -> None:
        self._control.resume(self._row())

    async def terminate(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """End the instance now; an error when it is over already. (``rollback`` is accepted: a
        Python workflow has no rollback handlers to run.)"""
        merge_options(f"{self._label} terminate()", options, kwargs, ("rollback",))
        await self._control.terminate(self._row())

    async def restart(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Run the instance again from the start, or from a step on: ``restart({"from": {"name": ...,
        "count"?: 1, "type"?: "do" | "sleep" | "waitForEvent"}})``."""
        where = f"{self._label} restart()"
        merged = merge_options(where, options, kwargs, ("from",))
        await self._control.restart(self._row(), _from_step(merged.get("from"), where))

    async def delete(self) -> None:
        """Forget the instance, stopping it first if it runs."""
        await self._control.delete(self._row())

    async def send_event(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Send an event to the instance; a ``step.wait_for_event`` of its ``type`` receives it (now,
        or when it gets there: events sent before are kept)."""
        where = f"{self._label} send_event()"
        merged = merge_options(where, options, kwargs, _EVENT_OPTIONS)
        event_type = merged.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise WorkflowError(f"{where}: expected type= as a non-empty str, found {event_type!r}")
        payload = encode_value(merged.get("payload"), f"{where}: payload")
        self._control.send_event(self._row(), event_type, payload)

    sendEvent = send_event

    @property
    def _label(self) -> str:
        return f'workflow "{self._workflow}" instance "{self.id}"'

    def _row(self) -> Any:
        return self._control.row(self._workflow, self.id)

    def __repr__(self) -> str:
        return f"<Workflow instance {self._workflow}/{self.id}>"


def _error_code(error: WorkflowError) -> str:
    return "instance.not_found" if "instance.not_found" in str(error) else "instance.invalid_id"


def _check_id(id: Any, where: str) -> str:
    if not isinstance(id, str) or len(id) > MAX_INSTANCE_ID_LENGTH or not INSTANCE_ID_PATTERN.fullmatch(id):
        raise WorkflowError(
            f"{where}: invalid instance id {id!r}; an id is 1 to {MAX_INSTANCE_ID_LENGTH} characters: "
            "letters, digits, _ and - (not first)"
        )
    return id


def _from_step(value: Any, where: str) -> tuple[str, str, int] | None:
    """``{"name", "count"?, "type"?}`` as (kind, name, occurrence)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise WorkflowError(f'{where}: expected from as {{"name": ..., "count"?, "type"?}}, found {value!r}')
    kind = _STEP_KINDS.get(value.get("type", "do"))
    count = value.get("count", 1)
    if kind is None or isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise WorkflowError(
            f"{where}: from.type is one of {', '.join(_STEP_KINDS)} and from.count a whole number >= 1, "
            f"found {value!r}"
        )
    return kind, value["name"], count
