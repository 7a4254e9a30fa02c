"""Message ids: 32 lowercase hex characters of fresh randomness, as Cloudflare's.

Randomness is drawn from the operating system for ``POOL_IDS`` ids at a time: one system call
costs as much as the rest of making an id, and a single ``send()`` needs one id. The ids not yet
handed out are forgotten in a forked child, so that two processes never share them.
"""

from __future__ import annotations

import os

#: How many ids one draw of randomness makes.
POOL_IDS = 256

_pool: list[str] = []


def new_message_ids(count: int) -> list[str]:
    """``count`` fresh message ids (one draw of randomness for all of them)."""
    raw = os.urandom(16 * count).hex()
    return [raw[start : start + 32] for start in range(0, 32 * count, 32)]


def new_message_id() -> str:
    """One fresh message id."""
    while True:
        try:
            return _pool.pop()
        except IndexError:  # used up (or taken by another thread meanwhile): draw more
            _pool.extend(new_message_ids(POOL_IDS))


os.register_at_fork(after_in_child=_pool.clear)
