"""Tracebacks as a user should see them: their own frames, not workerlab's or asyncio's plumbing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import os
import traceback
from types import TracebackType

import workerlab

from .namespace import PACKAGE_PATTERN

#: Folders whose frames are dispatch plumbing, never the user's code.
_PLUMBING_DIRS = tuple(
    os.path.dirname(module_file) + os.sep
    for module_file in (workerlab.__file__, asyncio.__file__, concurrent.futures.__file__, importlib.__file__)
)


def is_user_frame(filename: str) -> bool:
    return not filename.startswith(_PLUMBING_DIRS) and not filename.startswith("<frozen importlib")


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without the plumbing's frames (for re-raising a handler's error in a test)."""
    kept: list[TracebackType] = []
    while tb is not None:
        if is_user_frame(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    trimmed: TracebackType | None = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


def format_user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` limited to the user's frames, as text."""
    summary = traceback.TracebackException.from_exception(error)
    _trim(summary)
    text = "".join(summary.format()).rstrip()
    # workerlab's own errors read as `StorageError: ...`, not `workerlab.errors.StorageError: ...`.
    seen: BaseException | None = error
    while seen is not None:
        kind = type(seen)
        if kind.__module__.startswith("workerlab."):
            text = text.replace(f"{kind.__module__}.{kind.__qualname__}:", f"{kind.__qualname__}:")
        seen = seen.__cause__ or seen.__context__
    # A worker's own exception classes read as `worker.QuotaError`, without its namespace package.
    return PACKAGE_PATTERN.sub("", text)


def _trim(summary: traceback.TracebackException) -> None:
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if is_user_frame(frame.filename)]
    )
    for linked in (summary.__cause__, summary.__context__):
        if linked is not None:
            _trim(linked)
