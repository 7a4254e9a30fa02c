"""Bindings to services that only exist on Cloudflare (Workers AI, Vectorize, Browser Rendering, ...).

They load, appear in the start-up table as ``not emulated``, and are on ``env`` as an object whose
every call raises :class:`NotEmulatedError`, saying how to supply a fake instead: the harness
marker's ``bindings={...}`` or ``workerlab dev --binding NAME=module:factory``. One kind object per
config section, all built from :class:`NotEmulatedKind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config.source import ConfigSource
from ..errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .registry import BindingSite, Mode


class NotEmulatedError(UserError):
    """A call to a binding whose service has no local equivalent."""

    code = "not-emulated"


@dataclass(frozen=True)
class NotEmulatedBinding:
    """A binding of a hosted-only service: ``env.<binding>`` of the kind ``label``."""

    binding: str
    label: str
    resource: str


class NotEmulated:
    """``env.<BINDING>`` of a hosted-only service: any method call raises, naming the fix."""

    def __init__(self, spec: NotEmulatedBinding) -> None:
        self._spec = spec

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            raise NotEmulatedError(self.explain(f"{name}()"))

        return call

    def explain(self, what: str) -> str:
        spec = self._spec
        return (
            f"env.{spec.binding}.{what}: {spec.label} has no local equivalent, so workerlab cannot run this "
            f"call. Supply a fake: in tests @pytest.mark.workerlab(bindings={{{spec.binding!r}: fake}}); in "
            f"workerlab dev --binding {spec.binding}=module:factory (module imported from the config's "
            "folder; factory() returns the object to use)"
        )

    def __repr__(self) -> str:
        return f"<{self._spec.label} binding {self._spec.binding}: not emulated>"


class NotEmulatedKind:
    """One config section of a hosted-only service: ``[ai]`` (a table) or ``[[vectorize]]`` (an array)."""

    def __init__(
        self,
        section: str,
        label: str,
        *,
        many: bool,
        resource_key: str | None = None,
        name_key: str = "binding",
    ) -> None:
        self.section = section
        self.label = label
        self.many = many
        self._resource_key = resource_key
        self._name_key = name_key
        # A spec class of its own, so that the registry tells the kinds apart by type.
        self._spec: type[NotEmulatedBinding] = type(f"NotEmulated_{section}", (NotEmulatedBinding,), {})

    @property
    def spec(self) -> type:
        return self._spec

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[NotEmulatedBinding, str]]:
        if self.many:
            entries = src.tables_at(value, key)
        else:
            table = src.table_at(value, key)
            entries = [(table, key)] if table else []
        specs = []
        for item, at in entries:
            name = src.string(item, self._name_key, at)
            resource = self.label
            if self._resource_key is not None and isinstance(item.get(self._resource_key), str):
                resource = f"{self.label} {item[self._resource_key]}"
            specs.append((self._spec(name, self.label, resource), at))
        return specs

    async def open(self, spec: NotEmulatedBinding, site: BindingSite) -> NotEmulated:
        return NotEmulated(spec)

    def describe(self, spec: NotEmulatedBinding, site: BindingSite) -> tuple[str, Mode]:
        return spec.resource, "not emulated"


#: Every hosted-only binding section wrangler knows, in the order they go on ``env``.
KINDS: tuple[NotEmulatedKind, ...] = (
    NotEmulatedKind("ai", "Workers AI", many=False),
    NotEmulatedKind("vectorize", "Vectorize index", many=True, resource_key="index_name"),
    NotEmulatedKind("browser", "Browser Rendering", many=False),
    NotEmulatedKind("hyperdrive", "Hyperdrive", many=True, resource_key="id"),
    NotEmulatedKind(
        "analytics_engine_datasets", "Analytics Engine dataset", many=True, resource_key="dataset"
    ),
    NotEmulatedKind("worker_loaders", "Worker Loader", many=True),
    NotEmulatedKind("images", "Images", many=False),
    NotEmulatedKind("send_email", "Email sending", many=True, name_key="name"),
    NotEmulatedKind("ratelimits", "Rate limiter", many=True, resource_key="namespace_id", name_key="name"),
    NotEmulatedKind("mtls_certificates", "mTLS certificate", many=True, resource_key="certificate_id"),
    NotEmulatedKind("version_metadata", "Version metadata", many=False),
    NotEmulatedKind("secrets_store_secrets", "Secrets Store secret", many=True, resource_key="secret_name"),
    NotEmulatedKind("pipelines", "Pipeline", many=True, resource_key="stream"),
    NotEmulatedKind("dispatch_namespaces", "Dispatch namespace", many=True, resource_key="namespace"),
    NotEmulatedKind("media", "Media Transformations", many=False),
    NotEmulatedKind("stream", "Stream", many=False),
    NotEmulatedKind("vpc_services", "VPC service", many=True, resource_key="service_id"),
)
