"""The dev server's log handler: lines kept while the event loop runs come out together, in the
order written, including a line another thread logs meanwhile; off the loop a line goes out at once."""

from __future__ import annotations

import io
import logging
import threading

from workerlab import dev


def handler() -> tuple[logging.Handler, io.StringIO, logging.Logger]:
    stream = io.StringIO()
    coalescing = dev._CoalescingHandler(stream)
    coalescing.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("workerlab.test-log-lines")
    log.handlers[:] = [coalescing]
    log.propagate = False
    log.setLevel(logging.INFO)
    return coalescing, stream, log


def test_off_the_loop_a_line_is_written_at_once() -> None:
    coalescing, stream, log = handler()
    log.info("starting")
    coalescing.write_line("GET / 200 OK (0ms)")  # type: ignore[attr-defined]
    assert stream.getvalue() == "starting\nGET / 200 OK (0ms)\n"


async def test_on_the_loop_lines_wait_for_the_flush_and_keep_their_order() -> None:
    coalescing, stream, log = handler()
    coalescing.write_line("GET /a 200 OK (0ms)")  # type: ignore[attr-defined]
    log.warning("slow")
    thread = threading.Thread(target=log.info, args=("from a thread",))
    thread.start()
    thread.join()
    coalescing.write_line("GET /b 200 OK (0ms)")  # type: ignore[attr-defined]
    assert stream.getvalue() == ""  # nothing written while the loop step runs
    coalescing.flush()
    assert stream.getvalue().splitlines() == [
        "GET /a 200 OK (0ms)",
        "slow",
        "from a thread",
        "GET /b 200 OK (0ms)",
    ]
