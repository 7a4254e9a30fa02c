"""A Starlette app served through workers.asgi."""

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route
from workers import WorkerEntrypoint, asgi


@asynccontextmanager
async def lifespan(app):
    yield {"prefix": ">"}


async def echo(request):
    data = await request.json()
    query = request.query_params.get("q")
    return JSONResponse({"echo": data, "query": query, "env": request.scope["env"].MODE})


async def chunks(request):
    async def parts():
        for part in ("one ", "two ", "three"):
            yield part

    return StreamingResponse(parts(), media_type="text/plain")


async def cookies(request):
    response = PlainTextResponse(request.state.prefix + " cookies")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


async def empty(request):
    return PlainTextResponse(None, status_code=204)


async def broken(request):
    raise RuntimeError("boom in a route")


app = Starlette(
    routes=[
        Route("/echo", echo, methods=["POST"]),
        Route("/chunks", chunks),
        Route("/cookies", cookies),
        Route("/empty", empty),
        Route("/broken", broken),
    ],
    lifespan=lifespan,
)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
