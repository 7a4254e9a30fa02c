"""Records every cron run, message delivery and alarm run with the time it happened."""

import time

from workers import DurableObject, Response, WorkerEntrypoint

#: (epoch ms, kind, label) of every event, in the order they ran.
EVENTS = []


def now_ms():
    """The tests point this at the fake clock."""
    return time.time_ns() // 1_000_000


def record(kind, label):
    EVENTS.append((now_ms(), kind, label))


class Timer(DurableObject):
    async def arm(self, label, when_ms, failures=0, every_ms=0):
        """Alarm at ``when_ms``; fail the first ``failures`` runs; set the next one ``every_ms`` on."""
        await self.ctx.storage.put({"label": label, "failures": failures, "every": every_ms})
        await self.ctx.storage.setAlarm(when_ms)

    async def alarm(self, alarm_info):
        label = await self.ctx.storage.get("label")
        record("alarm", f"{label}#{alarm_info.retryCount}")
        failures = await self.ctx.storage.get("failures")
        if failures:
            await self.ctx.storage.put("failures", failures - 1)
            raise RuntimeError(f"{label} fails, {failures - 1} to go")
        every = await self.ctx.storage.get("every")
        if every:
            await self.ctx.storage.setAlarm(now_ms() + every)

    async def label(self):
        return await self.ctx.storage.get("label")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("timeline")

    async def scheduled(self, controller, env, ctx):
        record("cron", controller.cron)

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            record("message", message.body)
            message.ack()
