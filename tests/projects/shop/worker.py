"""The storefront: asks the auth worker who a token belongs to, queues order emails for the mailer."""

import email.message
import http
import queue
from urllib.parse import urlsplit

import utils
from config import NAME
from lib import price_label
from workers import Response, WorkerEntrypoint

CRONS: list[str] = []


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path == "/whoami":
            return Response.json({"worker": NAME, "utils": utils.owner(), "price": price_label(1999)})
        if path == "/stdlib":
            return Response.json(stdlib_check())
        if path == "/lazy":
            import lib.money
            import utils as lazy_utils
            from config import NAME as lazy_name

            return Response.json([lazy_name, lazy_utils.owner(), lib.money.format_cents(5)])
        if path == "/login":
            user = await self.env.AUTH.verify(utils.bearer_token(request.headers.get("authorization")))
            if not user.ok:
                return Response.json({"ok": False}, status=401)
            return Response.json({"ok": True, "name": user.user.name, "roles": user.user.roles})
        if path == "/login-safe":
            try:
                user = await self.env.AUTH.verify(utils.bearer_token(request.headers.get("authorization")))
            except Exception as error:
                return Response.json({"error": type(error).__name__, "message": str(error)}, status=503)
            return Response.json({"ok": user.ok})
        if path.startswith("/account/"):
            return await self.env.AUTH.fetch(request)
        if path == "/orders" and request.method == "POST":
            order = await request.json()
            await self.env.EMAILS.send({"to": order["email"], "subject": f"Your order: {order['item']}"})
            return Response.json({"queued": True}, status=202)
        if path == "/admin/stats":
            return Response.json(await self.env.ADMIN.stats())
        return Response("not found", status=404)

    async def scheduled(self, controller):
        CRONS.append(controller.cron)
        await self.env.EMAILS.send({"to": "ops@example.com", "subject": f"report {controller.cron}"})


def stdlib_check() -> dict:
    """The standard library's queue, email and http, although the mailer has modules of those names."""
    jobs = queue.Queue()
    jobs.put("wrap gift")
    message = email.message.EmailMessage()
    message["Subject"] = "Thanks"
    return {
        "queue": jobs.get_nowait(),
        "email": message["Subject"],
        "http": http.HTTPStatus.IM_A_TEAPOT.phrase,
    }
