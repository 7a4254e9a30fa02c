"""A worker using Workers AI and a Vectorize index: services that exist only on Cloudflare."""

from workers import Response, WorkerEntrypoint

MODEL = "@cf/meta/llama-3.1-8b-instruct"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3].split("?")[0]
        if path == "ask":
            question = await request.text()
            answer = await self.env.AI.run(MODEL, {"prompt": question})
            return Response.json({"answer": answer["response"]})
        if path == "health":
            return Response(f"ok {self.env.MODE}")
        return Response("not found", status=404)
