"""The classes bindings name (``class_name``, with ``script_name`` for another loaded worker's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from .registry import BindingSite


def exported_class(
    site: BindingSite, class_name: str, script_name: str | None, base: type, where: str
) -> tuple[Any, type]:
    """The worker that exports ``class_name`` (this one, or ``script_name``) and the class, checked
    to subclass ``base``; a ConfigError naming the binding, the class and the module otherwise."""
    owner = script_name or site.worker
    runtime = site.session.loaded_worker(owner)
    if runtime is None:
        raise ConfigError(
            f"{site.config.path}: {where} names script_name {owner!r}, which must be a worker loaded "
            f"with this one (workerlab dev -c {site.config.path.name} -c <its config>)"
        )
    cls = getattr(runtime.worker.module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        found = "nothing of that name" if cls is None else f"{cls!r}, which is not one"
        raise ConfigError(
            f"{site.config.path}: {where}: class_name {class_name!r} must be a {base.__name__} subclass "
            f"exported by {runtime.worker.path}, found {found}"
        )
    return runtime, cls
