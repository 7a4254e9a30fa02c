"""File names for configured names (queues, namespaces, buckets, classes, workers)."""

from __future__ import annotations

import re

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_file_name(name: str) -> str:
    """A file name for a configured name that cannot leave its folder.

    Plain names (letters, digits, ``._-``) are kept so the files are easy to find;
    anything else is replaced by a hash of the name.
    """
    if _SAFE_NAME.fullmatch(name) and ".." not in name:
        return name
    import hashlib  # only for the odd name: most are plain

    return "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
