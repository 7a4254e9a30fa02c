"""Cloudflare's Queues REST API, locally: pull consumers (pull, ack) and publishing over HTTP."""

from __future__ import annotations

from .app import QueuesApiApp

__all__ = ["QueuesApiApp"]
