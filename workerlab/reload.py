"""Watch the worker's files and say when to reload (the server keeps running meanwhile)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from .config import WorkerConfig

#: Folders under the worker's directory whose changes never mean a reload.
_IGNORED_PARTS = frozenset(
    {"__pycache__", ".workerlab", ".venv", "venv", ".git", "node_modules", ".pytest_cache"}
)


def watched_paths(config: WorkerConfig) -> tuple[Path, ...]:
    """The worker's directory, and the config file when it lives elsewhere.

    The config's folder is not watched as a whole: it may be a project root holding a virtual
    environment of thousands of folders.
    """
    folder = config.main.parent.resolve()
    paths = [folder]
    if folder not in config.path.resolve().parents:
        paths.append(config.path.resolve())
        for pattern in (".dev.vars*", ".env*"):
            paths.extend(p for p in config.path.parent.glob(pattern) if p.is_file())
    return tuple(paths)


def is_relevant(path: Path, config: WorkerConfig) -> bool:
    """A .py file under the worker's directory, the config file, or a .dev.vars / .env file next to it."""
    if _IGNORED_PARTS.intersection(path.parts):
        return False
    if path == config.path.resolve():
        return True
    if path.parent == config.path.parent.resolve() and path.name.startswith((".dev.vars", ".env")):
        return True
    return path.suffix == ".py" and config.main.parent.resolve() in path.parents


async def watch_changes(configs: Sequence[WorkerConfig]) -> AsyncIterator[set[str]]:
    """Yield the names of the changed files each time relevant files of any of ``configs`` change."""
    import watchfiles

    def keep(_change: watchfiles.Change, raw: str) -> bool:
        return any(is_relevant(Path(raw), config) for config in configs)

    paths = list(dict.fromkeys(path for config in configs for path in watched_paths(config)))
    async for changes in watchfiles.awatch(*paths, watch_filter=keep, debounce=100, step=20):
        yield {Path(raw).name for _change, raw in changes}
