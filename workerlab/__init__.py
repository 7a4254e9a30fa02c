"""workerlab: Cloudflare Workers written in Python, run locally in plain CPython."""

from __future__ import annotations

__version__ = "0.1.0"
