"""R2's object shapes: R2Object, R2ObjectBody, HTTP metadata, conditions and ranges."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from ..clock import to_epoch_ms, utc_from_ms
from ..errors import StorageError
from .results import JsObject, parse_json, require_int

#: R2's httpMetadata fields and the HTTP headers they stand for.
HTTP_FIELDS: dict[str, str] = {
    "contentType": "content-type",
    "contentLanguage": "content-language",
    "contentDisposition": "content-disposition",
    "contentEncoding": "content-encoding",
    "cacheControl": "cache-control",
    "cacheExpiry": "expires",
}
_FIELD_OF_HEADER = {header: field for field, header in HTTP_FIELDS.items()}

CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256", "sha384", "sha512")


def _items(value: Any, where: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    if hasattr(value, "items"):  # a Headers object
        return [(str(k), v) for k, v in value.items()]
    raise TypeError(f"{where}: expected a dict or Headers, found {type(value).__name__}")


def _epoch_ms(value: Any, where: str) -> int:
    """A datetime (naive means UTC), epoch milliseconds (like a JS Date), or an HTTP date."""
    if isinstance(value, datetime):
        return to_epoch_ms(value)
    if isinstance(value, str):
        try:
            return int(parsedate_to_datetime(value).timestamp() * 1000)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: expected an HTTP date, found {value!r}") from None
    return require_int(where, "date", value)


def parse_http_metadata(value: Any) -> dict[str, Any]:
    """``httpMetadata`` from R2's field names or from HTTP headers, for storing as JSON."""
    where = "R2 put(): httpMetadata"
    parsed: dict[str, Any] = {}
    for name, field_value in _items(value, where):
        field = name if name in HTTP_FIELDS else _FIELD_OF_HEADER.get(name.lower())
        if field is None:
            if isinstance(value, dict):
                raise TypeError(f"{where}: unknown field {name!r}; expected one of: {', '.join(HTTP_FIELDS)}")
            continue  # other headers of a Headers object are not R2 metadata
        if field == "cacheExpiry":
            parsed[field] = _epoch_ms(field_value, f"{where}.cacheExpiry")
        elif not isinstance(field_value, str):
            raise TypeError(f"{where}.{field} must be a str, found {type(field_value).__name__}")
        else:
            parsed[field] = field_value
    return parsed


def parse_custom_metadata(value: Any) -> dict[str, str]:
    where = "R2 put(): customMetadata"
    parsed: dict[str, str] = {}
    for name, field_value in _items(value, where):
        if not isinstance(field_value, str):
            raise TypeError(f"{where}[{name!r}] must be a str, found {type(field_value).__name__}")
        parsed[name] = field_value
    return parsed


@dataclass(frozen=True)
class StoredObject:
    """One row of a bucket's metadata table."""

    key: str
    version: str
    size: int
    etag: str
    uploaded_ms: int
    http_metadata: str  # JSON
    custom_metadata: str  # JSON
    checksums: str  # JSON: algorithm -> hex digest
    storage_class: str

    COLUMNS = (
        "key, version, size, etag, uploaded_ms, http_metadata, custom_metadata, checksums, storage_class"
    )

    def to_object(self, *, include: tuple[str, ...] = ("httpMetadata", "customMetadata")) -> R2Object:
        obj = R2Object()
        self._fill(obj, include)
        return obj

    def to_body(self, body: bytes, range_: JsObject | None) -> R2ObjectBody:
        obj = R2ObjectBody(body)
        self._fill(obj, ("httpMetadata", "customMetadata"))
        if range_ is not None:
            obj["range"] = range_
        return obj

    def _fill(self, obj: R2Object, include: tuple[str, ...]) -> None:
        obj.update(
            key=self.key,
            version=self.version,
            size=self.size,
            etag=self.etag,
            httpEtag=f'"{self.etag}"',
            uploaded=utc_from_ms(self.uploaded_ms),
            checksums=JsObject({k: bytes.fromhex(v) for k, v in json.loads(self.checksums).items()}),
            storageClass=self.storage_class,
        )
        if "httpMetadata" in include:
            http = JsObject(json.loads(self.http_metadata))
            if "cacheExpiry" in http:
                http["cacheExpiry"] = utc_from_ms(http["cacheExpiry"])
            obj["httpMetadata"] = http
        if "customMetadata" in include:
            obj["customMetadata"] = parse_json(self.custom_metadata)


class R2Object(JsObject):
    """An object's metadata: ``key, version, size, etag, httpEtag, uploaded, httpMetadata,
    customMetadata, checksums, storageClass``."""

    __slots__ = ()

    def writeHttpMetadata(self, headers: Any) -> None:
        """Set the object's HTTP metadata as headers (``Content-Type``...) on ``headers``."""
        for field, value in self.get("httpMetadata", {}).items():
            header = HTTP_FIELDS[field]
            text = format_datetime(value, usegmt=True) if isinstance(value, datetime) else str(value)
            if hasattr(headers, "set"):
                headers.set(header, text)
            else:
                headers[header] = text


class R2ObjectBody(R2Object):
    """An object with its body: ``await text()``, ``json()``, ``bytes()``, ``arrayBuffer()``.

    As on R2 the body can be read once; a second read is a TypeError.
    """

    __slots__ = ("_body", "_used")

    def __init__(self, body: builtins.bytes) -> None:
        super().__init__()
        self._body = body
        self._used = False

    @property
    def body(self) -> builtins.bytes:
        return self._body

    @property
    def bodyUsed(self) -> bool:
        return self._used

    def _consume(self) -> builtins.bytes:
        if self._used:
            raise TypeError(
                f"R2 object {self['key']!r}: the body has already been read (a body is read once)"
            )
        self._used = True
        return self._body

    async def bytes(self) -> builtins.bytes:
        return self._consume()

    async def arrayBuffer(self) -> builtins.bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return parse_json(self._consume().decode("utf-8", errors="replace"))


# --- onlyIf and range -------------------------------------------------------------------


def _etag_matches(condition: Any, etag: str) -> bool:
    for candidate in str(condition).split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate in ("*", etag):
            return True
    return False


_CONDITION_HEADERS = {
    "if-match": "etagMatches",
    "if-none-match": "etagDoesNotMatch",
    "if-unmodified-since": "uploadedBefore",
    "if-modified-since": "uploadedAfter",
}
CONDITION_FIELDS = (
    "etagMatches",
    "etagDoesNotMatch",
    "uploadedBefore",
    "uploadedAfter",
    "secondsGranularity",
)


def parse_condition(value: Any, where: str) -> dict[str, Any]:
    """``onlyIf`` from R2's field names or from request headers."""
    parsed: dict[str, Any] = {}
    for name, field_value in _items(value, where):
        field = name if name in CONDITION_FIELDS else _CONDITION_HEADERS.get(name.lower())
        if field is None:
            if isinstance(value, dict):
                raise TypeError(
                    f"{where}: unknown field {name!r}; expected one of: {', '.join(CONDITION_FIELDS)}"
                )
            continue
        if field_value is None:
            continue
        if field in ("uploadedBefore", "uploadedAfter"):
            parsed[field] = _epoch_ms(field_value, f"{where}.{field}")
        else:
            parsed[field] = field_value
        if name.lower() in ("if-unmodified-since", "if-modified-since"):
            parsed["secondsGranularity"] = True  # HTTP dates carry whole seconds
    return parsed


def condition_holds(condition: Mapping[str, Any], stored: StoredObject | None) -> bool:
    """Whether ``onlyIf`` lets the operation go ahead (RFC 7232 precedence, as R2 applies it)."""
    if not condition:
        return True
    if stored is None:
        return "etagMatches" not in condition
    uploaded_ms = stored.uploaded_ms

    def seconds(ms: int) -> int:
        return ms // 1000 * 1000 if condition.get("secondsGranularity") else ms

    if "etagMatches" in condition:
        if not _etag_matches(condition["etagMatches"], stored.etag):
            return False
    elif "uploadedBefore" in condition and seconds(uploaded_ms) > seconds(condition["uploadedBefore"]):
        return False
    if "etagDoesNotMatch" in condition:
        if _etag_matches(condition["etagDoesNotMatch"], stored.etag):
            return False
    elif "uploadedAfter" in condition and seconds(uploaded_ms) <= seconds(condition["uploadedAfter"]):
        return False
    return True


def parse_range(value: Any, size: int, key: str) -> tuple[int, int]:
    """``range`` (``{offset, length}``, ``{suffix}`` or a Range header) as (offset, length) in ``size``."""
    where = "R2 get(): range"
    if isinstance(value, Mapping) and not any(str(k).lower() == "range" for k in value):
        unknown = set(value) - {"offset", "length", "suffix"}
        if unknown:
            raise TypeError(
                f"{where}: unknown field {sorted(unknown)[0]!r}; expected offset, length or suffix"
            )
        if "suffix" in value:
            suffix = require_int(where, "suffix", value["suffix"])
            if "offset" in value or "length" in value:
                raise TypeError(f"{where}: suffix cannot be combined with offset or length")
            offset, length = max(size - suffix, 0), min(suffix, size)
        else:
            offset = require_int(where, "offset", value.get("offset", 0))
            length = require_int(where, "length", value["length"]) if "length" in value else size - offset
    else:
        header = dict((k.lower(), v) for k, v in _items(value, where)).get("range")
        offset, length = _range_header(str(header), size, where)
    if offset < 0 or length < 0 or (offset >= size and size > 0) or offset > size:
        raise StorageError(
            f"get: The requested range is not satisfiable (10039): offset {offset}, length {length}, "
            f"but object {key!r} has {size} bytes"
        )
    return offset, min(length, size - offset)


def _range_header(header: str, size: int, where: str) -> tuple[int, int]:
    unit, _, spec = header.partition("=")
    first, dash, last = spec.partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec:
        raise TypeError(f"{where}: expected a Range header like 'bytes=0-99', found {header!r}")
    try:
        if first.strip() == "":
            suffix = int(last)
            return max(size - suffix, 0), min(suffix, size)
        start = int(first)
        end = int(last) if last.strip() else size - 1
    except ValueError:
        raise TypeError(f"{where}: expected a Range header like 'bytes=0-99', found {header!r}") from None
    return start, end - start + 1
