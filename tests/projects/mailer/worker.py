"""The mailer: sends the emails the shop queues, and an hourly digest."""

import email
import http
import queue

import utils
from config import NAME
from workers import Response, WorkerEntrypoint

#: What was sent: rendered emails, and the digests' crons.
SENT: list[dict] = []
DIGESTS: list[str] = []


class Default(WorkerEntrypoint):
    async def queue(self, batch):
        for message in batch.messages:
            rendered = email.render(message.body)
            queue.put(rendered)
            SENT.append(rendered)
            message.ack()

    async def scheduled(self, controller):
        DIGESTS.append(controller.cron)

    async def fetch(self, request):
        import email as lazy_email
        import queue as lazy_queue

        return Response.json(
            {
                "worker": NAME,
                "utils": utils.owner(),
                "email": email.render({"to": "a@example.com", "subject": "hi"})["from"],
                "http": http.PROVIDER_URL,
                "queue": len(queue.OUTBOX),
                "lazy": [lazy_email is email, lazy_queue is queue],
            }
        )
