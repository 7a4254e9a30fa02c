"""Cloudflare's defaults and limits, in one place.

Every number that Cloudflare documents and workerlab enforces lives here with a
note on where it comes from; code and tests import the constant, never the number.
"""

from __future__ import annotations

# --- Queues: consumer settings (wrangler.toml [[queues.consumers]]) -----------------

#: Default messages per batch (Cloudflare Queues docs, "max_batch_size", default 10).
DEFAULT_MAX_BATCH_SIZE = 10
#: Fewest messages per batch one may configure (Cloudflare Queues limits: 1).
MIN_MAX_BATCH_SIZE = 1
#: Most messages per batch (Cloudflare Queues limits: 100).
MAX_MAX_BATCH_SIZE = 100
#: Default seconds to wait for a batch to fill (Cloudflare: 5 s).
DEFAULT_MAX_BATCH_TIMEOUT_S = 5.0
#: Shortest max_batch_timeout: 0 delivers at once (Cloudflare: 0 s).
MIN_MAX_BATCH_TIMEOUT_S = 0.0
#: Longest max_batch_timeout (Cloudflare: 60 s).
MAX_MAX_BATCH_TIMEOUT_S = 60.0
#: Default retries before a message is dead-lettered or dropped (Cloudflare: 3).
DEFAULT_MAX_RETRIES = 3
#: Fewest retries: 0 dead-letters after the first failed delivery (Cloudflare: 0).
MIN_MAX_RETRIES = 0
#: Most retries (Cloudflare: 100).
MAX_MAX_RETRIES = 100
#: Default retry delay in seconds (Cloudflare: 0).
DEFAULT_RETRY_DELAY_S = 0
#: Shortest delay for sends, retries and retry_delay (Cloudflare: 0 s).
MIN_DELAY_S = 0
#: Longest delay for sends, retries and retry_delay: 12 hours (Cloudflare: 43,200 s).
MAX_DELAY_S = 43_200
#: Default delivery_delay of a producer (Cloudflare: 0).
DEFAULT_DELIVERY_DELAY_S = 0
#: Default batches of one queue in flight at once. Cloudflare autoscales; locally 1.
DEFAULT_MAX_CONCURRENCY = 1
#: Fewest batches in flight one may configure (Cloudflare: 1).
MIN_MAX_CONCURRENCY = 1
#: Most batches in flight (Cloudflare: 250).
MAX_MAX_CONCURRENCY = 250

# --- Queues: producer limits --------------------------------------------------------

#: Largest encoded message (Cloudflare Queues limits: 128 KB).
MAX_MESSAGE_BYTES = 128_000
#: Most messages in one sendBatch (Cloudflare: 100).
MAX_SEND_BATCH_MESSAGES = 100
#: Largest sendBatch in total (Cloudflare: 256 KB).
MAX_SEND_BATCH_BYTES = 256_000
#: Dropped messages kept per queue for inspection (workerlab's own cap).
MAX_DROPPED_KEPT = 1_000

# --- Queues: retention, pull consumers, the HTTP API ----------------------------------

#: Shortest message_retention_period (Cloudflare Queues: 60 s).
MIN_MESSAGE_RETENTION_PERIOD_S = 60
#: Longest message_retention_period (Cloudflare Queues: 14 days).
MAX_MESSAGE_RETENTION_PERIOD_S = 1_209_600
#: Default message_retention_period (Cloudflare Queues: 4 days).
DEFAULT_MESSAGE_RETENTION_PERIOD_S = 345_600
#: Messages a pull returns without a batch_size (Cloudflare pull consumers: 5).
DEFAULT_PULL_BATCH_SIZE = 5
#: Most messages one pull returns (Cloudflare pull consumers: 100).
MAX_PULL_BATCH_SIZE = 100
#: Lease of a pulled message without a visibility_timeout_ms (Cloudflare pull consumers: 30 s).
DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000
#: Longest lease of a pulled message (Cloudflare Queues limits: 12 hours).
MAX_VISIBILITY_TIMEOUT_MS = 43_200_000
#: Most lease ids one ack request may carry, acks and retries together (workerlab's own cap:
#: ten full pulls).
MAX_ACK_LEASES = 1_000

# --- KV -----------------------------------------------------------------------------

#: Longest KV key in bytes (Cloudflare KV limits: 512 bytes).
KV_MAX_KEY_BYTES = 512
#: Largest KV value (Cloudflare KV limits: 25 MiB).
KV_MAX_VALUE_BYTES = 25 * 1024 * 1024
#: Largest KV metadata, serialized as JSON (Cloudflare KV limits: 1024 bytes).
KV_MAX_METADATA_BYTES = 1024
#: Shortest expirationTtl / distance to expiration in seconds (Cloudflare KV: 60 s).
KV_MIN_EXPIRATION_TTL_S = 60
#: Default and largest page of KV list() (Cloudflare KV: 1000).
KV_MAX_LIST_LIMIT = 1000

#: Most keys in one bulk get (Cloudflare KV: get() of a list of up to 100 keys).
KV_MAX_BULK_GET_KEYS = 100

# --- R2 -----------------------------------------------------------------------------

#: Longest R2 object key in bytes (Cloudflare R2 limits: 1024 bytes).
R2_MAX_KEY_BYTES = 1024
#: Default and largest page of R2 list() (Cloudflare R2: 1000).
R2_MAX_LIST_LIMIT = 1000
#: Most keys in one delete() of a list (Cloudflare R2: 1000).
R2_MAX_DELETE_KEYS = 1000

# --- Runtime ------------------------------------------------------------------------

#: How long shutdown waits for pending waitUntil work (Cloudflare: 30 s after the response).
WAIT_UNTIL_GRACE_S = 30.0

# --- Incoming requests --------------------------------------------------------------

#: Longest URL, path and query (Cloudflare Workers request limits: 16 KB; answered with 414).
MAX_URL_BYTES = 16 * 1024
#: Largest request headers in all (Cloudflare Workers request limits: 128 KB; answered with 431).
MAX_HEADER_BYTES = 128 * 1024
#: Largest request body (Cloudflare: 100 MB on the Free and Pro plans; answered with 413).
MAX_BODY_BYTES = 100 * 1000 * 1000
