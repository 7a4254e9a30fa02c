"""A worker that talks to bindings through pyodide.ffi: to_js objects, proxies, run_sync."""

from js import Object
from pyodide.ffi import create_proxy, run_sync, to_js
from workers import Response, WorkerEntrypoint


def cached_greeting(env):
    """Plain synchronous code (say, a library callback) that needs an async binding."""
    return run_sync(env.STORE.get("greeting")) or "hi"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.rsplit("/", 1)[-1]
        if path == "store":
            options = {"expirationTtl": 60, "metadata": {"by": "ffi"}}
            options = to_js(options, dict_converter=Object.fromEntries)
            await self.env.STORE.put("greeting", await request.text(), options)
            return Response("stored")
        if path == "bytes":
            body = to_js(b"\x00\x01binary").buffer
            return Response(body, headers={"content-type": "application/octet-stream"})
        if path == "notify":
            seen = []
            listener = create_proxy(seen.append)
            self.env.EVENTS.subscribe(listener)
            await self.env.EVENTS.emit("ping")
            listener.destroy()
            return Response(",".join(seen))
        return Response("unknown", status=404)


def sync_fetch(request, env):
    """A plain `def` handler: it runs in a worker thread, where run_sync() waits on the loop."""
    return Response(cached_greeting(env))
