"""Run `workerlab dev` as a real subprocess and talk to it, for end-to-end tests.

Nothing here sleeps to wait: output is read by a thread that wakes the waiters on every
line, and every wait has a deadline after which the test fails with the log so far.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

READY = re.compile(r"Ready on (http://\S+)")


class DevProcess:
    def __init__(self, args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "workerlab", "dev", "--port", "0", *args]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, *, timeout_s: float = 20.0, after: int = 0) -> re.Match[str]:
        """Wait until a line (from index ``after`` on) matches ``pattern``; return the match."""
        regex = re.compile(pattern)
        checked = after

        def find() -> re.Match[str] | None:
            nonlocal checked
            while checked < len(self.lines):
                match = regex.search(self.lines[checked])
                checked += 1
                if match:
                    return match
            return None

        with self._changed:
            found = self._changed.wait_for(
                lambda: find() or self.process.poll() is not None, timeout=timeout_s
            )
            match = find() if not isinstance(found, re.Match) else found
        if not isinstance(match, re.Match):
            state = "exited" if self.process.poll() is not None else "still running"
            raise AssertionError(
                f"no line matching {pattern!r} within {timeout_s}s ({state}); output:\n{self.output}"
            )
        return match

    def mark(self) -> int:
        """The number of lines so far, to wait only for lines printed after this point."""
        with self._changed:
            return len(self.lines)

    def wait_ready(self, timeout_s: float = 30.0) -> str:
        self.url = self.wait_for(READY.pattern, timeout_s=timeout_s).group(1)
        return self.url

    def wait_exit(self, timeout_s: float = 40.0) -> int:
        code = self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def _close_pipe(self) -> None:
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        self._close_pipe()

    def __enter__(self) -> DevProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
