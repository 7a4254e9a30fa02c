"""The broker against a small reference model of the rules, driven by hypothesis.

Steps: sends (with delays), clock advances with a handler plan (ack, raise, explicit
ack/retry, retryAll, ackAll), and crashes (a batch leased by a process that dies, then a
restart). After each step the store and the deliveries must match the model exactly.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_queue_support import ScriptedConsumer

from workerlab.clock import FakeClock
from workerlab.config import QueueConsumer
from workerlab.queues import Broker, MessageBatch, QueueStore
from workerlab.queues.codec import decode_body
from workerlab.queues.store import Owner

CONSUMER = QueueConsumer(
    "jobs", max_batch_size=3, max_batch_timeout_s=2, max_retries=2, retry_delay_s=4, dead_letter_queue="dlq"
)
PLANS = (
    "ok",
    "raise",
    "ack_first_then_raise",
    "retry_odd",
    "retry_all",
    "ack_all_then_retry_first",
    "ack_all_then_raise",
    "retry_all_then_ack_first",
)


def apply_plan(plan: str, batch: MessageBatch) -> None:
    """What the handler does with a batch under ``plan`` (bodies are ints)."""
    messages = batch.messages
    if plan == "raise":
        raise RuntimeError("plan: raise")
    if plan == "ack_first_then_raise":
        messages[0].ack()
        raise RuntimeError("plan: ack first then raise")
    if plan == "retry_odd":
        for m in messages:
            if m.body % 2:
                m.retry(delaySeconds=1)
    elif plan == "retry_all":
        batch.retryAll(delaySeconds=3)
    elif plan == "ack_all_then_retry_first":
        batch.ackAll()
        messages[0].retry()
    elif plan == "ack_all_then_raise":
        batch.ackAll()
        raise RuntimeError("plan: ackAll then raise")
    elif plan == "retry_all_then_ack_first":
        batch.retryAll()
        messages[0].ack()  # ignored: ack() after retryAll()


def model_decisions(plan: str, bodies: list[int]) -> list[int | None]:
    """The reference rules for ``plan``: per message, None for acked or the retry delay in seconds."""
    default = CONSUMER.retry_delay_s
    if plan == "ok":
        return [None for _ in bodies]
    if plan == "raise":
        return [default for _ in bodies]
    if plan == "ack_first_then_raise":
        return [None] + [default for _ in bodies[1:]]
    if plan == "retry_odd":
        return [1 if b % 2 else None for b in bodies]
    if plan == "retry_all":
        return [3 for _ in bodies]
    if plan == "ack_all_then_raise":
        return [None for _ in bodies]
    if plan == "retry_all_then_ack_first":
        return [default for _ in bodies]
    return [default] + [None for _ in bodies[1:]]  # ack_all_then_retry_first


@dataclass
class Model:
    body: int
    seq: int
    attempts: int
    ready_ms: int


class QueueMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.store = QueueStore.open(None)
        self.plan = "ok"
        self.scripted = ScriptedConsumer(lambda batch, ctx: apply_plan(self.plan, batch))
        self.broker = self._new_broker()
        self.next_body = 0
        self.crashes = 0
        self.jobs: list[Model] = []
        self.dlq: list[tuple[int, int]] = []
        self.dropped: list[int] = []
        self.deliveries: list[list[tuple[int, int]]] = []

    def _new_broker(self) -> Broker:
        return Broker(self.store, self.clock, {"jobs": CONSUMER}, self.scripted)

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(self.broker.close())
            self.store.close()
            self.loop.close()

    # --- the reference model ------------------------------------------------------------

    def _waiting(self) -> list[Model]:
        return sorted(self.jobs, key=lambda m: (m.ready_ms, m.seq))

    def _due_batch(self, now_ms: int) -> list[Model] | None:
        waiting = self._waiting()
        if not waiting:
            return None
        due_ms = waiting[0].ready_ms + round(CONSUMER.max_batch_timeout_s * 1000)
        if len(waiting) >= CONSUMER.max_batch_size:
            due_ms = min(due_ms, waiting[CONSUMER.max_batch_size - 1].ready_ms)
        if due_ms > now_ms:
            return None
        return [m for m in waiting if m.ready_ms <= now_ms][: CONSUMER.max_batch_size]

    def _model_run_due(self) -> None:
        now_ms = self.clock.now_ms()
        while (batch := self._due_batch(now_ms)) is not None:
            for m in batch:
                m.attempts += 1
            self.deliveries.append([(m.body, m.attempts) for m in batch])
            for m, delay_s in zip(batch, model_decisions(self.plan, [m.body for m in batch]), strict=True):
                if delay_s is None:
                    self.jobs.remove(m)
                elif m.attempts > CONSUMER.max_retries:
                    self.jobs.remove(m)
                    self.dlq.append((m.body, 0))
                else:
                    m.ready_ms = now_ms + delay_s * 1000

    # --- rules ----------------------------------------------------------------------------

    @rule(count=st.integers(1, 4), delay_s=st.sampled_from([None, 0, 1, 5]))
    def send(self, count: int, delay_s: int | None) -> None:
        bodies = list(range(self.next_body, self.next_body + count))
        self.next_body += count
        messages = [{"body": b} for b in bodies]
        self.loop.run_until_complete(self.broker.producer("jobs").sendBatch(messages, delaySeconds=delay_s))
        ready_ms = self.clock.now_ms() + 1000 * (delay_s or 0)
        self.jobs += [Model(b, b, 0, ready_ms) for b in bodies]

    @rule(seconds=st.sampled_from([0, 0.5, 1, 2, 4]), plan=st.sampled_from(PLANS))
    def advance(self, seconds: float, plan: str) -> None:
        self.plan = plan
        self.clock.advance(seconds)
        self.loop.run_until_complete(self.broker.run_due())
        self._model_run_due()

    @rule()
    def crash_mid_batch_and_restart(self) -> None:
        """A process leases the due batch and dies; a new broker starts on the same store."""
        now_ms = self.clock.now_ms()
        batch = self._due_batch(now_ms)
        if batch is None:
            return
        self.crashes += 1
        ghost = Owner(f"crashed-{self.crashes}", socket.gethostname(), os.getpid(), self.clock.now_ms())
        self.store.register_owner(ghost)
        claimed = self.store.claim("jobs", ghost.owner, now_ms, CONSUMER.max_batch_size)
        assert sorted(decode_body(r.body, r.content_type) for r in claimed) == sorted(m.body for m in batch)
        for m in batch:
            m.attempts += 1
        self.loop.run_until_complete(self.broker.close())
        self.broker = self._new_broker()
        # The restarted broker recovers the dead lease on its first look at the store.
        self.loop.run_until_complete(self.broker.run_due())
        self._model_run_due()

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        if not hasattr(self, "store"):
            return
        delivered = [[(m.body, m.attempts) for m in b.messages] for b in self.scripted.batches]
        assert delivered == self.deliveries
        jobs = {
            decode_body(r.body, r.content_type): (r.attempts, r.ready_ms) for r in self.store.pending("jobs")
        }
        assert jobs == {m.body: (m.attempts, m.ready_ms) for m in self.jobs}
        dlq = [(decode_body(r.body, r.content_type), r.attempts) for r in self.store.pending("dlq")]
        assert sorted(dlq) == sorted(self.dlq)
        assert self.broker.next_due_s() is None or self.jobs


QueueMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_queue_rules_match_the_model = QueueMachine.TestCase
