"""``[[services]]``: ``env.AUTH.fetch(...)`` and ``await env.AUTH.verify(token)`` call another worker.

The target is a worker loaded in this process (called in-process) or one another `workerlab dev`
serves from the same persist directory (called over loopback HTTP, see :mod:`.service_remote`).
Every call is an :class:`~workerlab.events.RpcCall` event (the ``RPC`` log line).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config.source import ConfigSource, keys
from ..errors import UserError
from ..events import RpcCall
from ..rpc import RpcStub, carried, fetch_request

if TYPE_CHECKING:
    from ..compat.headers import HeadersInit
    from ..compat.request import Request
    from ..compat.response import Response
    from .registry import BindingSite, Mode, SessionServices


class ServiceUnavailableError(UserError):
    """A service binding names a worker that no workerlab process is running."""

    code = "service-unavailable"


@dataclass(frozen=True)
class Service:
    """A ``[[services]]`` entry: ``env.<binding>`` calls the worker ``service`` (its ``entrypoint`` class)."""

    binding: str
    service: str
    entrypoint: str | None = None


class ServiceBinding(RpcStub):
    """``env.<BINDING>`` of a service binding: ``fetch`` plus any public method of the target."""

    def __init__(self, spec: Service, services: SessionServices, caller: str) -> None:
        label = spec.service if spec.entrypoint is None else f"{spec.service}#{spec.entrypoint}"
        super().__init__(self._call, label)
        self._spec = spec
        self._services = services
        self._caller = caller

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
        """Call the target's fetch handler with a request made as ``workers.fetch`` makes one."""
        request = fetch_request(resource, method, headers, body, redirect, cf)
        result: Response = await self._call("fetch", (request,), {})
        return result

    async def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        spec, services = self._spec, self._services
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            target = services.loaded_worker(spec.service)
            if target is not None:
                try:
                    return await target.call_entrypoint(spec.entrypoint, method, args, kwargs)
                except Exception as raised:
                    error = raised
                    raise carried(raised) from None
            from .service_remote import call_remote

            running = services.running_elsewhere(spec.service)
            if running is None:
                raise ServiceUnavailableError(self._nowhere())
            return await call_remote(running, spec.service, spec.entrypoint, method, args, kwargs)
        except BaseException as raised:
            error = error or raised
            raise
        finally:
            services.bus.emit(
                RpcCall(
                    self._caller,
                    spec.service,
                    method,
                    "ok" if error is None else "exception",
                    error,
                    (time.perf_counter() - started) * 1000,
                )
            )

    def _nowhere(self) -> str:
        spec = self._spec
        persist = self._services.persist_dir
        where = (
            f"and no other workerlab dev sharing the persist directory {persist} serves it"
            if persist is not None
            else "(tests: load it with @pytest.mark.workerlab(workers=[...]))"
        )
        return (
            f'env.{spec.binding}: the service "{spec.service}" is not running: no worker of that name is '
            f"loaded here {where}. Start it with `workerlab dev -c <its wrangler.toml>` beside this one "
            f"(same --persist-to), or load both in one process: `workerlab dev -c <this> -c <its config>`"
        )

    def __repr__(self) -> str:
        return f"<service binding {self._spec.binding} -> {self._label}>"


class _ServiceKind:
    section = "services"
    label = "Worker"
    spec = Service
    _keys = keys("binding service entrypoint environment props remote experimental_remote")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[Service, str]]:
        return [
            (
                Service(
                    src.string(item, "binding", at),
                    src.string(item, "service", at),
                    src.string(item, "entrypoint", at, default=None),
                ),
                at,
            )
            for item, at in src.entries(value, key, self._keys)
        ]

    async def open(self, spec: Service, site: BindingSite) -> ServiceBinding:
        target = site.session.loaded_worker(spec.service)
        if target is not None and spec.entrypoint is not None:
            target.entrypoint_class(spec.entrypoint)  # a ConfigError now rather than at the first call
        return ServiceBinding(spec, site.session, site.worker)

    def describe(self, spec: Service, site: BindingSite) -> tuple[str, Mode]:
        resource = spec.service if spec.entrypoint is None else f"{spec.service}#{spec.entrypoint}"
        if site.session.loaded_worker(spec.service) is not None:
            return resource, "local"
        running = site.session.running_elsewhere(spec.service) is not None
        return (resource if running else f"{resource} [not running]"), "other process"


KIND = _ServiceKind()
