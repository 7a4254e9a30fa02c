"""The auth service: fetch for account pages, RPC methods for the shop, an admin entrypoint."""

import http
import queue

import utils
from config import NAME, ROLES, TOKENS
from lib import sign
from workers import Response, WorkerEntrypoint

#: Every RPC method and fetch that ran, in order.
CALLS: list[str] = []
AUDIT: queue.SimpleQueue = queue.SimpleQueue()


class TokenExpired(Exception):
    """The token was valid once."""


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        CALLS.append("fetch")
        if request.headers.get("authorization") is None:
            status = http.HTTPStatus.UNAUTHORIZED
            return Response(status.phrase, status=status.value, headers={"x-served-by": NAME})
        return Response.json(
            {
                "worker": NAME,
                "method": request.method,
                "url": request.url,
                "authorization": request.headers.get("authorization"),
                "body": await request.text(),
            },
            headers={"x-served-by": NAME},
        )

    async def verify(self, token):
        CALLS.append("verify")
        AUDIT.put(token)
        if token == "t-expired":
            raise TokenExpired("the token t-expired expired at 2025-12-31T00:00:00Z")
        if not token:
            raise ValueError("no token given")
        name = TOKENS.get(token)
        if name is None:
            return {"ok": False, "user": None}
        return {"ok": True, "user": {"name": name, "roles": ROLES[name]}}

    async def lookup(self, name):
        CALLS.append("lookup")
        return {"name": name, "roles": ROLES[name]}

    async def echo(self, value):
        CALLS.append("echo")
        return value

    async def seen_as(self, value):
        """The type an argument has on this side of the call."""
        CALLS.append("seen_as")
        return type(value).__name__

    async def render(self, request):
        CALLS.append("render")
        body = await request.text()
        return Response(
            f"{request.method} {request.url} {body}",
            status=201,
            headers={"x-seen": request.headers.get("x-in")},
        )

    def whoami(self):
        CALLS.append("whoami")
        return {"worker": NAME, "utils": utils.owner(), "realm": self.env.REALM}

    async def active_tokens(self):
        CALLS.append("active_tokens")
        return set(TOKENS)  # a set cannot cross an RPC call

    async def shop_page(self, path):
        CALLS.append("shop_page")
        response = await self.env.SHOP.fetch(f"https://shop.example{path}")
        return await response.json()

    def _rotate_keys(self):
        CALLS.append("_rotate_keys")

    async def queue(self, batch):
        CALLS.append("queue")

    async def scheduled(self, controller):
        CALLS.append("scheduled")


class AdminApi(WorkerEntrypoint):
    async def stats(self):
        CALLS.append("stats")
        return {"worker": NAME, "realm": self.env.REALM, "calls": len(CALLS), "signature": sign("stats")}


class Helper:
    """A class of the module that is no entrypoint."""

    async def stats(self):
        return {}
