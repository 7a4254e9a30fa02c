"""The Durable Object namespace binding (``env.COUNTER``) and the stubs it hands out.

``idFromName`` / ``newUniqueId`` / ``idFromString`` make ids, ``get(id)`` and ``getByName(name)``
give a stub; ``await stub.fetch(...)`` calls the object's ``fetch``, ``await stub.method(...)``
any public method, by RPC rules (:mod:`workerlab.rpc`): arguments and results by value, the
target's exception raised with its type name and message.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ..bindings.results import merge_options
from ..rpc import RpcStub, call_method, clone, fetch_request
from ..signatures import positional_arity
from .alarms import AlarmInvocationInfo
from .ids import DurableObjectId, IdMaker
from .names import CloudflareNames
from .objects import Objects, carried_from
from .state import DurableObjectState

if TYPE_CHECKING:
    from ..compat.headers import HeadersInit
    from ..compat.request import Request
    from ..compat.response import Response

_GET_OPTIONS = ("locationHint",)
_ID_OPTIONS = ("jurisdiction",)


class DurableObjectNamespace(CloudflareNames):
    """``env.<BINDING>`` of a ``[[durable_objects.bindings]]`` entry."""

    def __init__(self, objects: Objects, worker: str) -> None:
        self._objects = objects
        self.worker = worker
        self.class_name = objects.class_name
        self._ids = IdMaker(worker, objects.class_name)

    @property
    def objects(self) -> Objects:
        """The engine behind the binding (for the harness and the inspector)."""
        return self._objects

    def idFromName(self, name: str) -> DurableObjectId:
        """The id of the object called ``name``: the same name always gives the same id."""
        return self._ids.from_name(name)

    def newUniqueId(self, options: Any = None, /, **kwargs: Any) -> DurableObjectId:
        """A new id, never made before (``jurisdiction`` is accepted and has no local meaning)."""
        merge_options("newUniqueId()", options, kwargs, _ID_OPTIONS)
        return self._ids.unique()

    def idFromString(self, text: str) -> DurableObjectId:
        """The id that ``id.toString()`` gave; a TypeError for anything else."""
        return self._ids.from_string(text)

    def get(self, object_id: DurableObjectId, options: Any = None, /, **kwargs: Any) -> DurableObjectStub:
        """The stub of the object ``object_id`` (``locationHint`` is accepted and has no local meaning)."""
        merge_options("get()", options, kwargs, _GET_OPTIONS)
        if not isinstance(object_id, DurableObjectId):
            raise TypeError(
                f"{self._where('get()')} expects a DurableObjectId (from idFromName, newUniqueId or "
                f"idFromString), found {type(object_id).__name__}; for a name use getByName(name)"
            )
        if not self._ids.belongs(object_id.toString()):
            raise TypeError(
                f"{self._where('get()')}: the id {object_id.toString()} was made by another namespace; "
                "an id works only with the namespace that made it"
            )
        return DurableObjectStub(self._objects, object_id)

    def getByName(self, name: str, options: Any = None, /, **kwargs: Any) -> DurableObjectStub:
        """The stub of the object called ``name`` (``get(idFromName(name))``)."""
        return self.get(self.idFromName(name), options, **kwargs)

    def jurisdiction(self, name: str) -> DurableObjectNamespace:
        """The namespace restricted to a jurisdiction: locally, the same namespace."""
        return self

    async def fire_alarm(self, object_id: str, object_name: str | None, info: AlarmInvocationInfo) -> None:
        """Run the object's ``alarm(info)`` as an event on it (the alarm book's ``fire``)."""
        label = f"{self.class_name} {object_id[:8]}"

        async def work(instance: Any, state: DurableObjectState) -> None:
            await call_alarm(instance, info, label)

        await self._objects.run(DurableObjectId(object_id, object_name), work)

    def belongs(self, object_id: str) -> bool:
        """Whether ``object_id`` (64 hex digits) is an id of this namespace."""
        return self._ids.belongs(object_id)

    def _where(self, call: str) -> str:
        return f"DurableObjectNamespace ({self.class_name}) {call}"

    def __repr__(self) -> str:
        return f"<DurableObjectNamespace {self.class_name} of worker {self.worker!r}>"


class DurableObjectStub(RpcStub):
    """The caller's side of one object: ``id``, ``name``, ``fetch()`` and any public method."""

    def __init__(self, objects: Objects, object_id: DurableObjectId) -> None:
        super().__init__(self._call, f"{objects.class_name} {object_id.toString()[:8]}")
        self._objects = objects
        self.id = object_id
        self.name = object_id.name

    async def fetch(
        self,
        resource: str | Request,
        *,
        method: str | None = None,
        headers: HeadersInit = None,
        body: Any = None,
        redirect: str | None = None,
        cf: dict[str, Any] | None = None,
    ) -> Response:
        """Call the object's ``fetch(request)`` with a request made as ``workers.fetch`` makes one."""
        request = fetch_request(resource, method, headers, body, redirect, cf)
        label = self._label

        async def work(instance: Any, state: DurableObjectState) -> Response:
            return await call_fetch(instance, request, label)

        return await self._event(work)  # type: ignore[no-any-return]

    async def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        label = self._label
        return await self._event(lambda instance, state: call_method(instance, name, args, kwargs, label))

    async def _event(self, work: Any) -> Any:
        try:
            return await self._objects.run(self.id, work)
        except Exception as error:
            raise carried_from(error)  # noqa: B904 - its cause is set: the target's own frames

    def __repr__(self) -> str:
        return f"<DurableObjectStub {self._label}>"


async def call_fetch(instance: Any, request: Request, label: str) -> Response:
    """The object's ``fetch(request)``, whose answer must be a Response."""
    from ..compat.response import Response

    handler = getattr(instance, "fetch", None)
    if not callable(handler):
        raise TypeError(
            f"{label} has no fetch() method: define async def fetch(self, request) on the class to "
            "answer stub.fetch(), or call its methods over RPC (await stub.method(...))"
        )
    result = handler(*(request,)[: positional_arity(handler, 1)])
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, Response):
        raise TypeError(f"{label} fetch() must return a Response, returned {type(result).__name__}")
    return clone(result, "the response")  # type: ignore[no-any-return]


async def call_alarm(instance: Any, info: AlarmInvocationInfo, label: str) -> None:
    """The object's ``alarm(alarm_info)`` (or ``alarm()``, if it declares no argument)."""
    handler = getattr(instance, "alarm", None)
    if not callable(handler):
        raise TypeError(f"{label} has an alarm set but no alarm() method to run it")
    result = handler(*(info,)[: positional_arity(handler, 1)])
    if inspect.isawaitable(result):
        await result
