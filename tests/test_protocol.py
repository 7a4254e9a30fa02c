"""The dev server's transport: one response, one write."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn
from devprocess import DevProcess
from test_dev_server import write_worker
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from workerlab import protocol
from workerlab.protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_writes_of_one_loop_step_leave_as_one() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.writes == []
    await asyncio.sleep(0)  # let the loop finish this step
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.writes[-1] == b"next"


async def test_close_sends_what_is_pending_first() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await asyncio.sleep(0)
    assert real.writes == [b"last words"]  # the scheduled flush finds nothing left


async def test_other_attributes_are_the_real_transports() -> None:
    transport = CoalescingTransport(RecordingTransport(), asyncio.get_running_loop())  # type: ignore[arg-type]
    assert transport.get_extra_info("peername") == "info:peername"


STREAMING = """
from starlette.responses import StreamingResponse
from workers import Response

async def fetch(request):
    if request.url.endswith("/stream"):
        async def chunks():
            for i in range(200):
                yield (f"{i:04d}" * 256).encode()
        return StreamingResponse(chunks())
    return Response("pong " + request.url.rsplit("/", 1)[1])
"""


def test_streamed_and_pipelined_responses_arrive_whole(tmp_path: Path) -> None:
    write_worker(tmp_path, source=STREAMING)
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        streamed = httpx.get(url + "/stream")
        assert streamed.content == b"".join((f"{i:04d}" * 256).encode() for i in range(200))
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"".join(f"GET /{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(3)))
            received = b""
            while received.count(b"pong") < 3:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {received!r}"
                received += chunk
        assert [received.index(f"pong {n}".encode()) for n in range(3)] == sorted(
            received.index(f"pong {n}".encode()) for n in range(3)
        )


def test_the_dev_server_protocol_is_uvicorns_httptools_one() -> None:
    built = protocol.coalescing_protocol()
    assert built is not None and issubclass(built, HttpToolsProtocol)
    assert isinstance(protocol.HttpProtocol, type) and issubclass(protocol.HttpProtocol, HttpToolsProtocol)


def test_without_httptools_uvicorn_picks_its_own_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("httptools", "uvicorn.protocols.http.httptools_impl"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails
    monkeypatch.delitem(sys.modules, "uvicorn.protocols.http.auto", raising=False)
    assert protocol.coalescing_protocol() is None
    assert protocol.http_protocol() == protocol.UVICORN_DEFAULT_PROTOCOL
    config = uvicorn.Config(lambda *_: None, http=protocol.http_protocol(), ws="none", log_config=None)
    config.load()
    assert config.http_protocol_class.__name__ == "H11Protocol"


def test_a_changed_connection_made_falls_back_to_uvicorns_own(monkeypatch: pytest.MonkeyPatch) -> None:
    def connection_made(self: HttpToolsProtocol, transport: asyncio.Transport, extra: object) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(HttpToolsProtocol, "connection_made", connection_made)
    assert protocol.http_protocol() == protocol.UVICORN_DEFAULT_PROTOCOL


class FakeTimer:
    def __init__(self, when: float, callback: object) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """The protocol's loop, for its keep-alive timer: a clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: object) -> FakeTimer:
        self.timers.append(FakeTimer(self.now + delay, callback))
        return self.timers[-1]

    def run_due(self, until: float) -> None:
        self.now = until
        for timer in [t for t in self.timers if t.when <= until and not t.cancelled]:
            self.timers.remove(timer)
            timer.callback()  # type: ignore[operator]


def idle_connection(loop: FakeLoop, keep_alive_s: float) -> tuple[HttpToolsProtocol, RecordingTransport]:
    built = protocol.coalescing_protocol()
    assert built is not None
    connection = built.__new__(built)  # only what the keep-alive path reads (uvicorn builds the rest)
    transport = RecordingTransport()
    connection.loop, connection.transport, connection.timeout_keep_alive = loop, transport, keep_alive_s
    connection.timeout_keep_alive_task, connection.pipeline = None, []
    connection.server_state = type("State", (), {"total_requests": 0})()
    connection.flow = type("Flow", (), {"resume_reading": lambda self: None})()
    return connection, transport  # type: ignore[return-value]


def test_a_busy_connection_keeps_one_keep_alive_timer_and_closes_when_idle_long_enough() -> None:
    loop = FakeLoop()
    connection, transport = idle_connection(loop, keep_alive_s=5)
    for at in (0.0, 1.0, 2.0, 3.0):  # a request a second: no timer of its own for each response
        loop.now = at
        connection._unset_keepalive_if_required()  # the request arrives
        connection.on_response_complete()
    assert len(loop.timers) == 1 and loop.timers[0].when == 5.0
    loop.run_due(5.0)  # idle since 3.0: two more seconds to wait
    assert not transport.closed and [t.when for t in loop.timers] == [8.0]
    loop.run_due(7.9)
    assert not transport.closed
    loop.run_due(8.0)
    assert transport.closed and connection.server_state.total_requests == 4  # type: ignore[attr-defined]


def test_a_connection_serving_a_request_when_its_timer_fires_is_left_open() -> None:
    loop = FakeLoop()
    connection, transport = idle_connection(loop, keep_alive_s=5)
    connection.on_response_complete()
    loop.now = 4.0
    connection._unset_keepalive_if_required()  # a slow request arrives
    loop.run_due(6.0)
    assert not transport.closed and loop.timers == []
    connection.on_response_complete()  # its response starts the timer again
    assert [t.when for t in loop.timers] == [11.0]
