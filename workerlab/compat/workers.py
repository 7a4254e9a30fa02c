"""The ``workers`` module user code imports: Cloudflare's Python Workers SDK names.

:func:`workerlab.compat.install.install_sdk_modules` publishes these names as the module
``workers`` (``__all__`` is exactly the SDK's), with ``workers.asgi``, ``workers.wsgi`` and
``workers.workflows`` beside it. Importing this module stays cheap: httpx is imported only when
``fetch()`` is first called.
"""

from __future__ import annotations

from typing import Any

from workerlab.compat import sdktypes
from workerlab.compat.entrypoint import (
    DurableObject,
    WorkerEntrypoint,
    WorkflowEntrypoint,
    handler,
    wait_until,
    waitUntil,
)
from workerlab.compat.env import env, patch_env
from workerlab.compat.fetch import fetch
from workerlab.compat.formdata import Blob, File, FormData
from workerlab.compat.headers import Headers
from workerlab.compat.jsimport import import_from_javascript
from workerlab.compat.request import Request
from workerlab.compat.response import Response
from workerlab.compat.rpcvalues import python_from_rpc, python_to_rpc
from workerlab.compat.sdktypes import (
    BlobEnding,
    BlobValue,
    Body,
    Context,
    FetchKwargs,
    FormDataValue,
    JSBody,
    RequestInitCfProperties,
)

#: The class Cloudflare's ``fetch()`` returns; Response is one (here they are the same class).
FetchResponse = Response

__all__ = [
    "Blob",
    "BlobEnding",
    "BlobValue",
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "File",
    "FormData",
    "FormDataValue",
    "Headers",
    "JSBody",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]

#: Names whose public value differs from the one workerlab's own code imports from here:
#: Cloudflare's ``workers.Headers`` is a type alias (a str), not a class.
PUBLIC_OVERRIDES: dict[str, Any] = {"Headers": sdktypes.Headers}


def public_names() -> dict[str, Any]:
    """Each name of ``__all__`` with the value user code sees as ``workers.<name>``."""
    names = {name: globals()[name] for name in __all__}
    names.update(PUBLIC_OVERRIDES)
    return names
