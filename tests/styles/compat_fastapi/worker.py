"""A FastAPI app served through workers.asgi, as Cloudflare's Python Workers serve one."""

from contextlib import asynccontextmanager

import asgi
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from pydantic import BaseModel
from workers import WorkerEntrypoint

LIFESPAN = {"startups": 0, "shutdowns": 0}
SENT = []


@asynccontextmanager
async def lifespan(app):
    LIFESPAN["startups"] += 1
    yield {"greeting": "hello"}
    LIFESPAN["shutdowns"] += 1


app = FastAPI(lifespan=lifespan)


def worker_env(request: Request):
    return request.scope["env"]


class Item(BaseModel):
    name: str
    price: float


@app.get("/hello/{name}")
async def hello(name: str, request: Request, env=Depends(worker_env)):  # noqa: B008 (FastAPI style)
    return {"message": f"{request.state.greeting} {name}", "mode": env.MODE}


@app.post("/items")
async def create_item(item: Item, env=asgi.env):
    return {"stored": item.name, "total": item.price * 2, "mode": env.MODE}


@app.get("/notify")
async def notify(tasks: BackgroundTasks):
    tasks.add_task(SENT.append, "mail")
    return {"queued": True}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
