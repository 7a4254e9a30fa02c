"""Which `workerlab dev` process runs which worker, recorded in the shared persist directory.

Each running `workerlab dev` records its workers with its address, its pid and a token that
callers must send back: one small JSON file per worker under ``workers/``, replaced whole (written
beside it, then renamed over it), so a reader sees the old entry or the new one, never half of
one. A service binding to a worker this process has not loaded looks the worker up here and
calls it over loopback HTTP (:mod:`workerlab.bindings.service_remote`). An entry whose process is
gone counts as absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .clock import SystemClock
from .errors import StorageError
from .file_names import safe_file_name
from .process import process_alive

#: The registry's folder under a persist directory.
REGISTRY_DIR_NAME = "workers"


@dataclass(frozen=True)
class RunningWorker:
    """A worker served by a `workerlab dev` process: RPC goes to ``url`` with ``token``."""

    name: str
    url: str
    pid: int
    token: str


class DevRegistry:
    """The registry of one persist directory."""

    def __init__(self, persist_dir: Path) -> None:
        self.path = persist_dir / REGISTRY_DIR_NAME
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _unwritable(self.path, error) from None

    def register(self, names: Iterable[str], url: str, token: str) -> None:
        """Record this process as the one serving ``names`` (replacing a stopped or older entry)."""
        started_ms = SystemClock().now_ms()
        pid = os.getpid()
        for name in names:
            entry = {"name": name, "url": url, "pid": pid, "token": token, "started_ms": started_ms}
            target = self._file(name)
            written = target.with_name(f".{target.name}.{pid}")
            try:
                # Only this user may read it: the token lets its holder call the workers.
                descriptor = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    json.dump(entry, file)
                os.replace(written, target)
            except OSError as error:
                written.unlink(missing_ok=True)
                raise _unwritable(self.path, error) from None

    def unregister(self, names: Iterable[str]) -> None:
        """Remove this process's entries for ``names`` (entries another process took over stay)."""
        for name in names:
            running = self._read(name)
            if running is not None and running.pid == os.getpid():
                self._file(name).unlink(missing_ok=True)

    def lookup(self, name: str) -> RunningWorker | None:
        """The live process serving ``name``, or None."""
        running = self._read(name)
        return running if running is not None and process_alive(running.pid) else None

    def _file(self, name: str) -> Path:
        return self.path / f"{safe_file_name(name)}.json"

    def _read(self, name: str) -> RunningWorker | None:
        try:
            entry = json.loads(self._file(name).read_text(encoding="utf-8"))
            return RunningWorker(entry["name"], entry["url"], int(entry["pid"]), entry["token"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no entry, or one no workerlab wrote whole: nobody to call


def _unwritable(path: Path, error: OSError) -> StorageError:
    return StorageError(
        f"cannot write the worker registry {path}: {error.strerror or error} (the persist directory "
        "must be writable; set it with --persist-to)",
        code="registry",
    )
