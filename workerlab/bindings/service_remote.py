"""Service calls between `workerlab dev` processes: the wire form, the client and the serving side.

A call is one loopback POST to ``<url>/cdn-cgi/workerlab/rpc/<worker>`` carrying the process's
token; its body and its answer are structured clones (:mod:`workerlab.clone`). ``Request`` and
``Response`` values travel as tuples: after :func:`workerlab.rpc.clone` no other tuple is left in
a value, so a tuple on the wire can only be one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clone import decode_clone, encode_clone
from ..http_clients import SharedClient
from ..mounts import RPC_PATH_PREFIX, TOKEN_HEADER
from ..rpc import clone, error_message, rebuilt

if TYPE_CHECKING:
    import httpx

    from ..dev_registry import RunningWorker

#: How long a call to another process may take (Cloudflare lets a subrequest run as long as its caller).
REMOTE_CALL_TIMEOUT_S = 300.0


def _make_client() -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(timeout=REMOTE_CALL_TIMEOUT_S, trust_env=False)


#: The client of every call to a worker in another process.
_client = SharedClient(_make_client)


def pack(value: Any) -> Any:
    """``value`` (already cloned) with every Request and Response turned into its wire tuple."""
    from ..compat.request import Request
    from ..compat.response import Response

    if isinstance(value, list):
        return [pack(item) for item in value]
    if isinstance(value, dict):
        return {key: pack(item) for key, item in value.items()}
    if isinstance(value, Request):
        headers = [[name, item] for name, item in value.headers.items()]
        return ("request", value.url, value.method, headers, value._body)
    if isinstance(value, Response):
        headers = [[name, item] for name, item in value.headers.items()]
        return ("response", value.status, value.status_text, headers, value._body or b"")
    return value


def unpack(value: Any) -> Any:
    """The inverse of :func:`pack`: dicts arrive with attribute access, as RPC results do."""
    from ..compat.request import Request
    from ..compat.response import Response

    if isinstance(value, tuple):
        if value[0] == "request":
            _, url, method, headers, body = value
            return Request(url, method=method, headers=[tuple(pair) for pair in headers], body=body)
        _, status, status_text, headers, body = value
        return Response(
            body or None, status=status, status_text=status_text, headers=[tuple(h) for h in headers]
        )
    if isinstance(value, list):
        return [unpack(item) for item in value]
    if isinstance(value, dict):
        return clone({key: unpack(item) for key, item in value.items()}, "a remote value")
    return value


async def call_remote(
    running: RunningWorker,
    worker: str,
    entrypoint: str | None,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call ``method`` of ``worker`` in the process ``running``; raise what the target raised."""
    payload = [
        "call",
        entrypoint or "",
        method,
        pack([clone(arg, f"argument {index + 1} of {method}()") for index, arg in enumerate(args)]),
        pack({key: clone(arg, f"argument {key}= of {method}()") for key, arg in kwargs.items()}),
    ]
    import httpx

    try:
        reply = await _client.get().post(
            f"{running.url}{RPC_PATH_PREFIX}{worker}",
            content=encode_clone(payload),
            headers={TOKEN_HEADER: running.token, "content-type": "application/octet-stream"},
        )
    except httpx.TransportError as error:
        raise ConnectionError(
            f'calling {worker}.{method}: the workerlab dev process that registered the service "{worker}" '
            f"(pid {running.pid}, {running.url}) does not answer ({type(error).__name__}); it may be "
            "stopping: start it again, or load the worker in this process"
        ) from None
    if reply.status_code != 200:
        raise ConnectionError(
            f"calling {worker}.{method} in the workerlab dev process at {running.url} failed: "
            f"{reply.status_code} {reply.text.strip()}"
        )
    answer = decode_clone(reply.content)
    if answer[0] == "ok":
        return unpack(answer[1])
    _, type_name, message = answer
    raise rebuilt(type_name, message)


async def serve_call(runtime: Any, body: bytes) -> bytes:
    """Run a call that arrived from another process on ``runtime`` (the target worker's); the answer."""
    try:
        _, entrypoint, method, args, kwargs = decode_clone(body)
    except (ValueError, TypeError) as error:
        return encode_clone(["error", "TypeError", f"malformed service call: {error}"])
    try:
        result = await runtime.call_entrypoint(
            entrypoint or None, method, tuple(unpack(args)), unpack(kwargs)
        )
        return encode_clone(["ok", pack(clone(result, f"the result of {method}()"))])
    except Exception as error:
        return encode_clone(["error", type(error).__name__, error_message(error)])
