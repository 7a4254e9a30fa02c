"""``[[workflows]]``: ``env.<BINDING>`` creates and controls instances of a Workflow class.

The class runs in the worker that exports it (this one, or ``script_name``'s); the session's one
:class:`~workerlab.workflows.WorkflowEngine` keeps every instance in ``<persist>/workflows.sqlite3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config.source import MISSING, ConfigSource, keys
from .classes import exported_class

if TYPE_CHECKING:
    from ..config.schema import WorkerConfig
    from ..workflows import WorkflowBinding
    from ..workflows.step import StepForm
    from .registry import BindingSite, Mode

#: Most steps of one instance unless ``limits.steps`` says otherwise (Cloudflare: 10,000).
DEFAULT_STEPS_LIMIT = 10_000
#: From this compatibility date a step function's parameters name the steps it depends on;
#: before it, ``step.do(name, depends=[...])`` fills them in order (Cloudflare's Python Workflows).
IMPLICIT_DEPENDENCIES_DATE = "2026-02-25"
#: The flag that keeps the older form after that date.
NO_IMPLICIT_DEPENDENCIES_FLAG = "no_python_workflows_implicit_dependencies"


def step_form(config: WorkerConfig) -> StepForm:
    """Which ``step.do`` Cloudflare gives a worker of this config."""
    date = config.compatibility_date or ""
    if date >= IMPLICIT_DEPENDENCIES_DATE and NO_IMPLICIT_DEPENDENCIES_FLAG not in config.compatibility_flags:
        return "implicit"
    return "legacy"


@dataclass(frozen=True)
class Workflow:
    """A ``[[workflows]]`` entry: the workflow ``name`` runs class ``class_name`` (of ``script_name``)."""

    binding: str
    name: str
    class_name: str
    script_name: str | None = None
    steps_limit: int = DEFAULT_STEPS_LIMIT


class _WorkflowKind:
    section = "workflows"
    label = "Workflow"
    spec = Workflow
    _keys = keys("name binding class_name script_name limits remote")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[Workflow, str]]:
        specs = []
        for item, at in src.entries(value, key, self._keys):
            limits = src.table_at(item.get("limits", MISSING), f"{at}.limits")
            steps = src.number(
                limits, "steps", f"{at}.limits", 1, DEFAULT_STEPS_LIMIT * 100, DEFAULT_STEPS_LIMIT
            )
            spec = Workflow(
                binding=src.string(item, "binding", at),
                name=src.string(item, "name", at),
                class_name=src.string(item, "class_name", at),
                script_name=src.string(item, "script_name", at, default=None),
                steps_limit=steps,
            )
            specs.append((spec, at))
        return specs

    async def open(self, spec: Workflow, site: BindingSite) -> WorkflowBinding:
        from ..compat.entrypoint import WorkflowEntrypoint

        engine = site.session.workflow_engine()
        if not engine.has(spec.name):
            where = f"workflow {spec.name!r}"
            owner, cls = exported_class(site, spec.class_name, spec.script_name, WorkflowEntrypoint, where)
            engine.register(
                spec.name,
                owner.name,
                cls,
                lambda: owner.env,
                site.work,
                step_limit=spec.steps_limit,
                step_form=step_form(owner.config),
            )
        return engine.binding(spec.name)

    def describe(self, spec: Workflow, site: BindingSite) -> tuple[str, Mode]:
        return f"{spec.name} ({spec.class_name})", "local"


KIND = _WorkflowKind()
