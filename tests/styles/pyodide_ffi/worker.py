"""A worker written against Pyodide's bridge: JS responses and headers from `js`, values handed to
bindings through `to_js`, a Python callback lent to JS with `create_proxy`, and `run_sync` in code
a framework calls synchronously (a WSGI app)."""

from urllib.parse import parse_qs

from js import JSON, URL, Headers, Object, Response, console
from pyodide.ffi import create_proxy, run_sync, to_js
from workers import WorkerEntrypoint, wsgi

BINARY = b"\x00\x01\x02binary\xff"


def js_headers(**values):
    return Headers.new({name.replace("_", "-"): value for name, value in values.items()}.items())


def wsgi_app(environ, start_response):
    """A synchronous app (what Flask or Django would be): it reads KV through run_sync."""
    key = parse_qs(environ["QUERY_STRING"]).get("key", ["greeting"])[0]
    value = run_sync(environ["workers.env"].STORE.get(key))
    start_response("200 OK", [("content-type", "text/plain; charset=utf-8")])
    return [f"{key}={value}".encode()]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = URL.new(request.url)
        path = url.pathname
        console.log("pyodide worker:", request.method, path)
        if path.startswith("/kv/"):
            key = path.removeprefix("/kv/")
            if request.method == "PUT":
                options = {"expirationTtl": 3600, "metadata": {"by": "pyodide", "size": 0}}
                options["metadata"]["size"] = len(await request.clone().text())
                await self.env.STORE.put(
                    key, await request.text(), to_js(options, dict_converter=Object.fromEntries)
                )
                return Response.new("stored", status=201)
            found = await self.env.STORE.getWithMetadata(key)
            if found.value is None:
                return Response.new("missing", status=404)
            data = {"value": found.value, "by": found.metadata.by, "size": found.metadata["size"]}
            return Response.json(to_js(data, dict_converter=Object.fromEntries))
        if path == "/bytes":
            return Response.new(
                to_js(BINARY).buffer, headers=js_headers(content_type="application/octet-stream")
            )
        if path == "/parse":
            parsed = JSON.parse(await request.text())
            total = sum(parsed.numbers)
            return Response.new(
                JSON.stringify(
                    to_js({"total": total, "echo": parsed.to_py()}, dict_converter=Object.fromEntries)
                )
            )
        if path == "/events":
            heard = []
            listener = create_proxy(heard.append)
            self.env.EVENTS.subscribe(listener)
            await self.env.EVENTS.emit(url.searchParams.get("name") or "ping")
            listener.destroy()
            return Response.new(",".join(heard))
        if path == "/sync":
            return await wsgi.fetch(wsgi_app, request, self.env)
        return Response.new("not found", status=404)
