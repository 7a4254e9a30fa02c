"""Durable Object ids: 64 lowercase hex digits that name one object of one namespace.

An id is 32 bytes: a 16-byte body (derived from the name for ``idFromName``, random for
``newUniqueId``) and a 16-byte tag, an HMAC of the body under the namespace's key. The tag is
what lets ``idFromString`` refuse an id made by another namespace, as Cloudflare does, and
``idFromName`` gives the same id for the same name in every process and every run.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from .names import CloudflareNames

_BODY_BYTES = 16
_HEX = re.compile(r"[0-9a-fA-F]{64}")


class DurableObjectId(CloudflareNames):
    """The id of one Durable Object: ``toString()`` (64 hex digits), ``name`` (None for an id
    made by ``newUniqueId`` or ``idFromString``), ``equals(other)``."""

    __slots__ = ("_hex", "name")

    def __init__(self, hex_id: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.name = name

    def toString(self) -> str:
        """The id as 64 lowercase hex digits (what ``idFromString`` takes back)."""
        return self._hex

    def equals(self, other: object) -> bool:
        """Whether ``other`` is an id of the same object."""
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __eq__(self, other: object) -> bool:
        return self.equals(other)

    def __hash__(self) -> int:
        return hash(self._hex)

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"DurableObjectId({self._hex!r}{named})"


class IdMaker:
    """Makes and checks the ids of one namespace (a worker's class)."""

    def __init__(self, worker: str, class_name: str) -> None:
        self._label = f"class {class_name} of worker {worker!r}"
        identity = f"workerlab durable object namespace\0{worker}\0{class_name}"
        self._key = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).digest()

    def _make(self, body: bytes, name: str | None) -> DurableObjectId:
        tag = hmac.new(self._key, body, hashlib.sha256).digest()[:_BODY_BYTES]
        return DurableObjectId((body + tag).hex(), name)

    def from_name(self, name: Any) -> DurableObjectId:
        """The id for ``name``: the same name always gives the same id."""
        if not isinstance(name, str):
            raise TypeError(f"idFromName() expects the name as a str, got {type(name).__name__} {name!r}")
        data = b"name\0" + name.encode("utf-8", "surrogatepass")
        body = hmac.new(self._key, data, hashlib.sha256).digest()[:_BODY_BYTES]
        return self._make(body, name)

    def unique(self) -> DurableObjectId:
        """A new random id, never made before."""
        return self._make(secrets.token_bytes(_BODY_BYTES), None)

    def from_string(self, text: Any) -> DurableObjectId:
        """The id ``text`` spells (as ``toString()`` gave it); a TypeError unless it is 64 hex
        digits made by this namespace."""
        if not isinstance(text, str):
            raise TypeError(
                f"idFromString() expects the id as a str of 64 hex digits, got {type(text).__name__}"
            )
        if not _HEX.fullmatch(text):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise TypeError(
                f"Invalid Durable Object ID {shown!r}: expected 64 hex digits (as id.toString() "
                f"gives them), found {len(text)} characters"
            )
        hex_id = text.lower()
        if not self.belongs(hex_id):
            raise TypeError(
                f"Invalid Durable Object ID {hex_id!r}: it was not made by this namespace "
                f"({self._label}); an id works only with the namespace that made it"
            )
        return DurableObjectId(hex_id)

    def belongs(self, hex_id: str) -> bool:
        """Whether ``hex_id`` (64 lowercase hex digits) was made by this namespace."""
        return (
            _HEX.fullmatch(hex_id) is not None and self._make(bytes.fromhex(hex_id[:32]), None)._hex == hex_id
        )
