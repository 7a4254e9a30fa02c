"""``[[queues.producers]]``: ``env.<BINDING>`` sends to a queue of the session's broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import limits
from ..config.source import ConfigSource, keys

if TYPE_CHECKING:
    from ..config.schema import WorkerConfig
    from ..queues.producer import QueueProducerBinding
    from .registry import BindingSite, Mode


@dataclass(frozen=True)
class QueueProducer:
    """A ``[[queues.producers]]`` entry: ``env.<binding>`` sends to ``queue``."""

    binding: str
    queue: str
    delivery_delay_s: int = limits.DEFAULT_DELIVERY_DELAY_S


def queue_names(config: WorkerConfig) -> list[str]:
    """Every queue a config names: producers', consumers' and dead-letter queues, in that order."""
    names = [p.queue for p in config.bindings_of(QueueProducer)] + [c.queue for c in config.consumers]
    names += [c.dead_letter_queue for c in config.consumers if c.dead_letter_queue]
    return list(dict.fromkeys(names))


class _QueueKind:
    section = "queues.producers"
    label = "Queue"
    spec = QueueProducer
    _keys = keys("binding queue delivery_delay remote")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[QueueProducer, str]]:
        producers = []
        for item, at in src.entries(value, key, self._keys):
            binding = src.string(item, "binding", at)
            delay_s = src.number(
                item,
                "delivery_delay",
                at,
                limits.MIN_DELAY_S,
                limits.MAX_DELAY_S,
                limits.DEFAULT_DELIVERY_DELAY_S,
            )
            queue = src.string(item, "queue", at, default=binding)
            producers.append((QueueProducer(binding, queue, delay_s), at))
        return producers

    async def open(self, spec: QueueProducer, site: BindingSite) -> QueueProducerBinding:
        broker = site.session.queue_broker()
        return broker.producer(spec.queue, delivery_delay_s=spec.delivery_delay_s)

    def describe(self, spec: QueueProducer, site: BindingSite) -> tuple[str, Mode]:
        return spec.queue, "local"


KIND = _QueueKind()
