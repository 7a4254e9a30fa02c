"""A small shop: orders in D1, a cache in KV, receipts in R2, jobs in a queue (failing ones end in
its dead-letter queue), a counter Durable Object, an export workflow and two crons."""

from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint


class Counter(DurableObject):
    async def increment(self):
        count = (await self.ctx.storage.get("count") or 0) + 1
        await self.ctx.storage.put("count", count)
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (n INTEGER)")
        self.ctx.storage.sql.exec("INSERT INTO hits VALUES (?)", count)
        await self.ctx.storage.setAlarm(1_900_000_000_000)
        return count

    async def alarm(self, alarm_info):
        await self.ctx.storage.put("alarmed", True)


class Export(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("collect orders")
        async def collect():
            return [1, 2, 3]

        orders = await collect()
        await step.wait_for_event("wait for approval", "approved", timeout="1 hour")
        return {"exported": len(orders)}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        env = self.env
        if url.path == "/seed":
            await env.CACHE.put("greeting", "hello", metadata={"lang": "en"})
            await env.CACHE.put("user:1", '{"name": "Ada"}')
            await env.DB.prepare("INSERT INTO orders (item, quantity) VALUES (?, ?)").bind("tea", 2).run()
            await env.FILES.put("receipts/1.txt", "receipt 1", httpMetadata={"contentType": "text/plain"})
            html = {"contentType": "text/html"}
            await env.FILES.put("page.html", "<script>alert(1)</script>", httpMetadata=html)
            await env.COUNTER.getByName("main").increment()
            await env.EXPORT.create(id="export-1", params={"month": "2026-01"})
            return Response("seeded")
        if url.path == "/job":
            await env.JOBS.send({"job": query.get("name", "job"), "fail": query.get("fail") == "1"})
            return Response("queued")
        if url.path == "/boom":
            raise RuntimeError("the shop fell over")
        return Response("shop")

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            if message.body.get("fail"):
                raise ValueError(f"job {message.body['job']} failed")
            message.ack()

    async def scheduled(self, controller, env, ctx):
        await env.CACHE.put("last-cron", controller.cron)
