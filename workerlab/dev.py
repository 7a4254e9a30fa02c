"""`workerlab dev`: one options object, and the run() that serves a session of workers with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EXIT_OK, EXIT_STARTUP_FAILURE, EXIT_USER_ERROR, UserError, WorkerlabError
from .limits import WAIT_UNTIL_GRACE_S
from .server import RuntimeSlot, WorkerApp
from .startup_table import bindings_table

if TYPE_CHECKING:
    from .config import WorkerConfig
    from .inspector import InspectorApp
    from .session import Session

logger = logging.getLogger("workerlab")


LOG_LEVELS = ("debug", "info", "warn", "warning", "error", "none")


@dataclass(frozen=True)
class DevOptions:
    """Every option of `workerlab dev`; the command line maps onto it one to one."""

    #: The workers' configs (repeatable -c); the first is the primary, served on the port.
    configs: tuple[Path, ...] = ()
    env: str | None = None
    ip: str = "127.0.0.1"
    port: int = 8787
    persist_to: Path | None = None
    durable: bool = False
    test_scheduled: bool = False
    vars: tuple[str, ...] = ()
    #: ``NAME=module:factory``: env.NAME of every worker is what factory() returns.
    bindings: tuple[str, ...] = ()
    crons: bool = True
    reload: bool = True
    #: Serve the web inspector under /cdn-cgi/workerlab/ (``--no-inspector`` turns it off).
    inspector: bool = True
    log_level: str = "info"
    cwd: Path = field(default_factory=Path.cwd)


def run(options: DevOptions) -> int:
    """Serve the workers until SIGINT/SIGTERM; return the exit status."""
    request_log = configure_logging(options.log_level)
    dev = DevServer(options, request_log=request_log)
    try:
        dev.read_configs()
    except UserError as error:
        print(f"✘ {error.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        sock = _bind(options.ip, options.port)
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        print(
            f"✘ Cannot listen on {options.ip}:{options.port}: {reason}. "
            "Check the address given with --ip, or pick another port with --port (--port 0 for a free one).",
            file=sys.stderr,
        )
        return EXIT_STARTUP_FAILURE
    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - no uvloop on this platform
            return asyncio.run(dev.main(sock))
        return uvloop.run(dev.main(sock))
    finally:
        _flush_log()  # the lines of the shutdown itself


class DevServer:
    """Holds the serving session; swaps it on reload, keeping the socket (and so the port)."""

    def __init__(self, options: DevOptions, *, request_log: Callable[[str], None] | None = None) -> None:
        from .loglines import LogLines
        from .mounts import new_token

        self.options = options
        self.log = LogLines(request_log)
        self.token = new_token()
        self.slot = RuntimeSlot()
        from .mounts import dev_mounts

        mounts = dev_mounts(inspector=options.inspector)
        self.app = WorkerApp(
            self.slot, test_scheduled=options.test_scheduled, rpc_token=self.token, mounts=mounts
        )
        #: The web inspector (None with --no-inspector): told of every session loaded.
        self.inspector = _inspector(mounts) if options.inspector else None
        self.configs: list[WorkerConfig] = []
        self.session: Session | None = None
        self.url: str | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def read_configs(self) -> None:
        """Read every config (the first found in the working folder when none was given)."""
        from .config import load_configs

        options = self.options
        self.configs = load_configs(list(options.configs) or [None], env=options.env, cwd=options.cwd)

    @property
    def persist_dir(self) -> Path:
        from .config import default_persist_dir

        return self.options.persist_to or default_persist_dir(self.configs[0])

    async def load(self) -> Session:
        """Open a session of the workers of the configs read last; a UserError says what is wrong."""
        from .binding_overrides import load_overrides
        from .envvars import parse_var_flags
        from .session import Session, SessionOptions

        options = self.options
        extra_vars = parse_var_flags(options.vars)
        configs = self.configs
        session_options = SessionOptions(
            persist_dir=self.persist_dir,
            durable=options.durable,
            extra_vars=extra_vars,
            crons=options.crons,
            overrides=load_overrides(options.bindings, configs[0].root),
        )
        session = await Session.open(configs, session_options, log=self.log)
        self.session = session
        self.slot.runtime = session.primary
        self.slot.load_error = None
        if self.inspector is not None:
            self.inspector.attach(session)
        return session

    async def main(self, sock: socket.socket) -> int:
        try:
            await self.load()
        except UserError as error:
            print(f"✘ {error.message}", file=sys.stderr)
            return EXIT_USER_ERROR
        return await self.serve(sock)

    async def serve(self, sock: socket.socket) -> int:
        import uvicorn

        from .protocol import HttpProtocol

        session = self.session
        assert session is not None
        session.start()
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            # A WebSocket upgrade reaches the fetch handler as a plain request, as on Cloudflare
            # (WebSocketPair is not emulated); and uvicorn need not import a WebSocket library.
            ws="none",
            log_level="warning",
            access_log=False,
            loop="none",
            timeout_graceful_shutdown=5,
            # Requests come straight from the client, never through a proxy; and Cloudflare's
            # responses carry no `server: uvicorn` header.
            proxy_headers=False,
            server_header=False,
            # workerlab's logging stays as configured (uvicorn would otherwise reconfigure it).
            log_config=None,
            http=HttpProtocol,
        )
        server = _Server(config)
        watcher = None
        if self.options.reload:
            watcher = asyncio.create_task(self._watch(), name="workerlab-reload")
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if server.started:
            host, port = sock.getsockname()[:2]
            self.url = f"http://{host}:{port}"
            self._register(session)  # before Ready: a script may call this process's workers at once
            _flush_log()  # what loading logged (applied migrations, warnings) comes before the line
            print(f"Ready on {self.url}", flush=True)
            if self.inspector is not None:
                from .inspector import inspector_url

                print(f"Inspector on {inspector_url(host, port)}", flush=True)
                self.inspector.stop_when(lambda: server.should_exit)  # open event streams end at shutdown
            print(bindings_table(session), flush=True)
            # Everything imported so far lives as long as the process: keep it out of every
            # garbage collection from now on, so collections stay as cheap as the request garbage.
            import gc

            gc.freeze()
        await serving
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        logger.info("Shutting down...")
        self.slot.runtime = None
        if self.session is not None:
            self._unregister(self.session)
            await self.session.close(grace_s=WAIT_UNTIL_GRACE_S)
            self.session = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        from .http_clients import aclose_all

        await aclose_all()
        return EXIT_OK

    def _register(self, session: Session) -> None:
        """Tell other `workerlab dev` processes on this persist directory where our workers run."""
        registry = session.dev_registry()
        if registry is not None and self.url is not None:
            registry.register(session.workers, self.url, self.token)

    def _unregister(self, session: Session) -> None:
        registry = session.dev_registry()
        if registry is not None:
            registry.unregister(session.workers)

    async def _watch(self) -> None:
        from .reload import watch_changes

        async for changed in watch_changes(self.configs):
            logger.info("Change detected in %s, reloading...", ", ".join(sorted(changed)))
            await self.reload()

    async def reload(self) -> None:
        old = self.session
        if old is not None:
            # Stop its timers now so two brokers never run at once; its waitUntil work finishes later.
            self._unregister(old)
            await old.stop_timers()
        try:
            self.read_configs()
            new = await self.load()
        except WorkerlabError as error:
            logger.error("Reload failed (serving the error until it is fixed):\n%s", error.message)
            self.session = None
            self.slot.runtime = None
            self.slot.load_error = error.message
            if old is not None:
                self._retire(old)
            return
        if old is not None:
            self._retire(old)
        new.start()
        self._register(new)
        logger.info("Reloaded")

    def _retire(self, session: Session) -> None:
        task = asyncio.create_task(session.close(grace_s=WAIT_UNTIL_GRACE_S))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _inspector(mounts: Sequence[tuple[str, Any]]) -> InspectorApp | None:
    from .inspector import InspectorApp

    return next((app for _, app in mounts if isinstance(app, InspectorApp)), None)


def _bind(ip: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ip, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _Server(config: Any) -> Any:
    """uvicorn's Server, built lazily so that importing this module stays cheap."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, minus re-raising the signal after a graceful shutdown (we exit 0)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)


class _Formatter(logging.Formatter):
    _PREFIX = {logging.WARNING: "▲ [WARNING] ", logging.ERROR: "✘ [ERROR] ", logging.CRITICAL: "✘ [ERROR] "}

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return self._PREFIX.get(record.levelno, "") + message


#: How long a log line may wait in the buffer while the event loop is busy.
LOG_FLUSH_INTERVAL_S = 0.05


def _flush_log() -> None:
    for handler in logger.handlers:
        handler.flush()


class _CoalescingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Keeps the lines written while the event loop runs and writes them together at most every
    LOG_FLUSH_INTERVAL_S, so a log line per request stays cheap under load.

    Every line goes through one queue, in the order written, whichever thread writes it (a deque:
    appending and taking from it need no lock). While the loop runs, its thread writes the queue
    out (a line from another thread asks it to); off the loop (start-up, shutdown) a line is
    written at once.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: deque[str] = deque()
        self._flush_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)
        self._schedule_flush()

    def write_line(self, line: str) -> None:
        """Write an already formatted INFO line: the per-request line, written by the loop's thread."""
        self._lines.append(line)
        if not self._flush_pending:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        # asyncio.get_running_loop() costs a getpid() system call: ask it only off the known loop.
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread or not loop.is_running():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                running = self._loop
                if running is not None and running.is_running():  # another thread: the loop writes it
                    running.call_soon_threadsafe(self._schedule_flush)
                else:
                    self.flush()
                return
            self._loop, self._loop_thread = loop, threading.get_ident()
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_later(LOG_FLUSH_INTERVAL_S, self.flush)

    def flush(self) -> None:
        """Write every line kept so far."""
        self._flush_pending = False  # a line added from now on asks for another flush
        lines = self._lines
        with self.lock:  # type: ignore[union-attr]
            if lines:
                # What is queued now; a line another thread adds meanwhile stays for the next flush.
                self.stream.write("\n".join([lines.popleft() for _ in range(len(lines))]) + "\n")
            self.stream.flush()


def configure_logging(level: str) -> Callable[[str], None] | None:
    """workerlab's log lines on stderr, uvicorn's own quiet unless something is wrong.

    Returns the fast writer for per-request lines, or None when INFO lines are not shown.
    """
    logger.handlers.clear()
    logger.propagate = False
    # A dev server's records need no caller, thread or process fields; skipping them halves their cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if level == "none":
        logger.setLevel(logging.CRITICAL + 1)
        return None
    # stderr is line-buffered (a write system call per line); log through a block-buffered view of it.
    stream = open(  # noqa: SIM115 - lives as long as the process
        sys.stderr.fileno(), "w", buffering=1 << 16, encoding="utf-8", errors="replace", closefd=False
    )
    handler = _CoalescingHandler(stream)
    handler.setFormatter(_Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel({"warn": "WARNING"}.get(level, level.upper()))
    logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
    return handler.write_line if logger.isEnabledFor(logging.INFO) else None
