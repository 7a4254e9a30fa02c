"""wrangler.toml / wrangler.json(c) -> frozen, typed configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import limits


@dataclass(frozen=True)
class QueueProducer:
    binding: str
    queue: str
    delivery_delay_s: int = 0


@dataclass(frozen=True)
class QueueConsumer:
    queue: str
    max_batch_size: int = limits.DEFAULT_MAX_BATCH_SIZE
    max_batch_timeout_s: float = limits.DEFAULT_MAX_BATCH_TIMEOUT_S
    max_retries: int = limits.DEFAULT_MAX_RETRIES
    retry_delay_s: int = limits.DEFAULT_RETRY_DELAY_S
    dead_letter_queue: str | None = None
    max_concurrency: int = limits.DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True)
class KVNamespace:
    binding: str
    id: str | None = None


@dataclass(frozen=True)
class D1Database:
    binding: str
    database_name: str
    database_id: str | None = None
    migrations_dir: Path = Path("migrations")  # absolute once loaded


@dataclass(frozen=True)
class R2Bucket:
    binding: str
    bucket_name: str


@dataclass(frozen=True)
class WorkerConfig:
    path: Path  # the config file
    name: str
    main: Path  # absolute path of the worker's .py module
    compatibility_date: str | None = None
    env_name: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    producers: tuple[QueueProducer, ...] = ()
    consumers: tuple[QueueConsumer, ...] = ()
    crons: tuple[str, ...] = ()
    kv_namespaces: tuple[KVNamespace, ...] = ()
    d1_databases: tuple[D1Database, ...] = ()
    r2_buckets: tuple[R2Bucket, ...] = ()

    @property
    def root(self) -> Path:
        """The folder of the config file: relative paths are relative to it."""
        return self.path.parent
