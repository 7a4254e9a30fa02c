"""A worker in the legacy style: a module-level on_fetch, JS objects from the js module."""

from js import JSON, URL, Headers, Object, Response, console
from pyodide.ffi import to_js

JSON_HEADERS = {"content-type": "application/json"}


async def on_fetch(request, env):
    url = URL.new(request.url)
    console.log("legacy worker:", request.method, url.pathname)
    if url.pathname == "/echo":
        payload = await request.json()
        body = JSON.stringify(payload)
        return Response.new(body, headers=Headers.new(JSON_HEADERS.items()), status=201)
    if url.pathname == "/greet":
        name = url.searchParams.get("name") or "stranger"
        return Response.new(f"hello {name}", headers=Headers.new({"x-greeted": name}.items()))
    if url.pathname == "/reverse":
        data = await request.arrayBuffer()
        return Response.new(to_js(data.to_bytes()[::-1]).buffer)
    if url.pathname == "/where":
        agent = request.headers.get("user-agent")
        where = {"colo": request.cf.colo, "tls": request.cf.tlsVersion, "agent": agent}
        return Response.json(to_js(where, dict_converter=Object.fromEntries))
    if url.pathname == "/old":
        return Response.redirect("https://example.com/new", 301)
    return Response.new("not found", status=404)
