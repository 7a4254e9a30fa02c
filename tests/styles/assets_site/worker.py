"""A site of static assets with a worker behind it: an API, and pages that the worker builds from
the assets through the ASSETS binding."""

from workers import Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = "/" + request.url.split("/", 3)[3].split("?")[0]
        if path.startswith("/api/"):
            return Response.json({"worker": path, "method": str(request.method)})
        if path == "/through-binding":
            # The asset the request names (the same path and headers), fetched by the worker itself.
            return await self.env.ASSETS.fetch(request)
        if path.startswith("/wrapped/"):
            inner = path.removeprefix("/wrapped")
            page = await self.env.ASSETS.fetch(Request("http://assets.local" + inner))
            text = await page.text()
            return Response(f"[wrapped {page.status}] {text}", headers={"content-type": "text/plain"})
        return Response(f"worker answered {path}", headers={"x-served-by": "worker"})
