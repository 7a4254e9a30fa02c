"""Cloudflare's Durable Object limits and timings that workerlab enforces or follows.

Code and tests import these names, never the numbers.
"""

from __future__ import annotations

# --- Key-value storage ------------------------------------------------------------------

#: Longest storage key, in UTF-8 bytes (Cloudflare Durable Objects limits: 2 KiB).
MAX_KEY_BYTES = 2_048
#: Largest stored value of a key-value backed class, as serialized (Cloudflare: 128 KiB).
MAX_VALUE_BYTES_KV = 131_072
#: Largest stored value of a SQLite backed class, as serialized (Cloudflare: 2 MB).
MAX_VALUE_BYTES_SQLITE = 2 * 1024 * 1024
#: Most keys in one get(), put() or delete() of several keys (Cloudflare: 128).
MAX_KEYS_PER_CALL = 128

# --- SQL (SQLite backed classes) --------------------------------------------------------

#: Longest SQL query text, in UTF-8 bytes (Cloudflare Durable Objects SQL limits: 100 KB).
MAX_SQL_QUERY_BYTES = 100_000
#: Most bound parameters of one statement (Cloudflare: 100).
MAX_SQL_BINDINGS = 100

# --- Alarms -----------------------------------------------------------------------------

#: Retries of a failing alarm() before it is dropped (Cloudflare: up to 6 retries).
MAX_ALARM_RETRIES = 6
#: The first retry waits this long after the failure; each next one doubles it
#: (Cloudflare: exponential backoff starting at 2 s: 2, 4, 8, 16, 32, 64 s).
ALARM_FIRST_RETRY_DELAY_S = 2

# --- Instances --------------------------------------------------------------------------

#: An object with no event for this long (workerlab clock) is evicted from memory; its storage
#: stays. Cloudflare evicts after 70-140 s of inactivity.
IDLE_EVICTION_S = 70.0
#: Most objects kept in memory at once in a session (fewer when the open-file limit is low);
#: past it the least recently used idle ones are evicted before their idle time is up
#: (workerlab's own bound on memory and open files).
MAX_LIVE_OBJECTS = 1_000
#: Most live objects holding their database open at once; past it the least recently used idle
#: ones close theirs and stay live (workerlab's own bound: an open SQLite connection costs about
#: 150 KB before its page cache, an instance a few KB).
MAX_OPEN_DATABASES = 256
