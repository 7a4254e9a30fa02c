"""The smallest useful worker: a greeting, a JSON echo and a background task."""

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        if url.endswith("/echo") and request.method == "POST":
            return Response.json({"received": await request.json()})
        if url.endswith("/env"):
            return Response.json({"greeting": self.env.GREETING})
        return Response("Hello from workerlab!")
