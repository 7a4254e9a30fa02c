"""Cloudflare's Queues REST API, locally: pull consumers (pull, ack) and publishing over HTTP."""

from __future__ import annotations

from .app import API_PATH, QueuesApiApp

__all__ = ["API_PATH", "QueuesApiApp"]
