"""A worker's wrangler config, read and validated: ``load_config(path) -> WorkerConfig``."""

from __future__ import annotations

from .load import (
    CONFIG_FILE_NAMES,
    DEFAULT_PERSIST_SUBDIR,
    default_persist_dir,
    discover_config,
    load_config,
    load_configs,
)
from .schema import BindingSpec, Migration, QueueConsumer, Var, WorkerConfig

__all__ = [
    "CONFIG_FILE_NAMES",
    "DEFAULT_PERSIST_SUBDIR",
    "BindingSpec",
    "Migration",
    "QueueConsumer",
    "Var",
    "WorkerConfig",
    "default_persist_dir",
    "discover_config",
    "load_config",
    "load_configs",
]
