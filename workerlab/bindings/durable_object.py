"""``[[durable_objects.bindings]]``: ``env.<NAME>`` is the namespace of a Durable Object class.

The class lives in this worker's module or in ``script_name``'s; its storage is SQLite-backed
when a ``[[migrations]]`` entry lists it in ``new_sqlite_classes``, key-value backed for
``new_classes``. The session's one :class:`~workerlab.durable.DurableObjects` keeps every object
under ``<persist>/durable_objects/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config.source import ConfigSource, keys
from .classes import exported_class

if TYPE_CHECKING:
    from ..config.schema import WorkerConfig
    from ..durable import DurableObjectNamespace, StorageKind
    from .registry import BindingSite, Mode

logger = logging.getLogger("workerlab")


@dataclass(frozen=True)
class DurableObjectBinding:
    """A ``[[durable_objects.bindings]]`` entry: ``env.<binding>`` reaches class ``class_name``."""

    binding: str
    class_name: str
    script_name: str | None = None


def storage_of(config: WorkerConfig, class_name: str) -> StorageKind:
    """How the worker's migrations declare ``class_name``: ``"sqlite"`` or ``"kv"``."""
    for migration in config.migrations:
        if class_name in migration.new_sqlite_classes:
            return "sqlite"
        if class_name in migration.new_classes:
            return "kv"
    logger.warning(
        '%s: no [[migrations]] entry declares the Durable Object class "%s" (Cloudflare refuses to deploy '
        'it without one: add new_sqlite_classes = ["%s"]); using SQLite-backed storage',
        config.path,
        class_name,
        class_name,
    )
    return "sqlite"


class _DurableObjectKind:
    section = "durable_objects.bindings"
    label = "Durable Object"
    spec = DurableObjectBinding
    _keys = keys("name class_name script_name environment")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[DurableObjectBinding, str]]:
        return [
            (
                DurableObjectBinding(
                    src.string(item, "name", at),
                    src.string(item, "class_name", at),
                    src.string(item, "script_name", at, default=None),
                ),
                at,
            )
            for item, at in src.entries(value, key, self._keys)
        ]

    async def open(self, spec: DurableObjectBinding, site: BindingSite) -> DurableObjectNamespace:
        from ..compat.entrypoint import DurableObject

        where = f"durable_objects.bindings {spec.binding}"
        owner, cls = exported_class(site, spec.class_name, spec.script_name, DurableObject, where)
        return site.session.durable_objects().namespace(
            cls,
            worker=owner.name,
            class_name=spec.class_name,
            storage=storage_of(owner.config, spec.class_name),
            env=lambda: owner.env,
            work=site.work,
        )

    def describe(self, spec: DurableObjectBinding, site: BindingSite) -> tuple[str, Mode]:
        owner = f"{spec.script_name}." if spec.script_name else ""
        return f"{owner}{spec.class_name}", "local"


KIND = _DurableObjectKind()
