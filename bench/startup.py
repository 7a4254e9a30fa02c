"""Seconds from launching `workerlab dev` to its `Ready on` line (hello worker)."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HELLO_CONFIG, percentile, start_dev, stop

RUNS = 15


def main() -> None:
    timings = []
    with tempfile.TemporaryDirectory() as state:
        for _ in range(RUNS):
            process, _url, seconds = start_dev(HELLO_CONFIG, Path(state))
            stop(process)
            timings.append(seconds)
    print(f"startup_median: {statistics.median(timings):.3f} s")
    print(f"startup_p90: {percentile(timings, 0.9):.3f} s")
    print(f"startup_min: {min(timings):.3f} s")


if __name__ == "__main__":
    main()
