"""Form bodies: multipart/form-data and application/x-www-form-urlencoded, both ways.

python-multipart splits a multipart body into parts (its own limits on a part's headers, their
number and length, apply); what a part means (its name, its file name and the escapes browsers
use in them) is read here.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser

from workerlab.compat.formdata import File, FormData
from workerlab.limits import MAX_BODY_BYTES

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
#: Content type of a file part that has none (RFC 7578 section 4.4).
DEFAULT_FILE_TYPE = "application/octet-stream"
#: Largest form body form_data() parses: Cloudflare's request body limit (``MAX_BODY_BYTES``),
#: so a larger body never reaches a Worker there.
MAX_FORM_BODY_BYTES = MAX_BODY_BYTES
#: Largest text (non-file) part of a multipart form. Cloudflare sets no limit of its own below
#: the body's; a text part becomes one str, which may take 4 bytes a character, and a Worker
#: has 128 MB of memory (Cloudflare Workers limits), so a quarter of that is the most one can
#: hold there. A file part may take the whole body.
MAX_FORM_FIELD_BYTES = 32_000_000

_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')
# Form part names are quoted without backslash escapes (HTML standard), so a backslash is literal.
_FORM_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("[^"]*"|[^;]*))?')
_QUOTED_PAIR = re.compile(r"\\(.)")
# Names and filenames escape these three characters (HTML standard, multipart/form-data encoding).
_ESCAPES = {'"': "%22", "\r": "%0D", "\n": "%0A"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_UNESCAPE = re.compile("|".join(_UNESCAPES), re.IGNORECASE)
# How much of a malformed line an error message quotes.
_QUOTED_BYTES = 80


class FormParseError(TypeError):
    """A form body could not be parsed (a TypeError, as Cloudflare's formData() raises)."""


def parse_header_params(value: str, *, form_part: bool = False) -> tuple[str, dict[str, str]]:
    """Split ``'text/html; charset="utf-8"'`` into ``("text/html", {"charset": "utf-8"})``.

    The main value and the parameter names are lower-cased; quoted values are unquoted
    (with backslash escapes, except in a form part's Content-Disposition).
    """
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in (_FORM_PARAM if form_part else _PARAM).finditer(";" + rest):
        raw = (match.group(2) or "").strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1] if form_part else _QUOTED_PAIR.sub(r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    return main.strip().lower(), params


def _escape(text: str) -> bytes:
    for char, code in _ESCAPES.items():
        text = text.replace(char, code)
    return text.encode()


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: _UNESCAPES[m.group(0).upper()], text)


def encode_multipart(form: FormData, boundary: str | None = None) -> tuple[bytes, str]:
    """The multipart/form-data body of ``form`` and its Content-Type (with the boundary)."""
    boundary = boundary or "----workerlab" + os.urandom(12).hex()
    delimiter = b"--" + boundary.encode("ascii")
    chunks: list[bytes] = []
    for name, value in form.items():
        chunks += [delimiter, b'\r\nContent-Disposition: form-data; name="', _escape(name), b'"']
        if isinstance(value, File):
            content_type = (value.type or DEFAULT_FILE_TYPE).encode("latin-1")
            chunks += [b'; filename="', _escape(value.name), b'"\r\nContent-Type: ', content_type]
            data = value._data
        else:
            data = value.encode()
        chunks += [b"\r\n\r\n", data, b"\r\n"]
    chunks += [delimiter, b"--\r\n"]
    return b"".join(chunks), f"{MULTIPART}; boundary={boundary}"


class _Parts:
    """The parser's callbacks: gathers each part's headers and bytes into a FormData."""

    __slots__ = (
        "_chunks",
        "_field",
        "_filename",
        "_headers",
        "_name",
        "_value",
        "ended",
        "form",
        "in_headers",
    )

    def __init__(self) -> None:
        self.form = FormData()
        self.in_headers = False
        self.ended = False
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self._chunks: list[bytes] = []
        self._name = ""
        self._filename: str | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.in_headers = True
        self._headers = {}
        self._chunks = []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.strip().decode("utf-8", "replace")
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        self.in_headers = False
        found = self._headers.get("content-disposition")
        disposition, params = parse_header_params(found or "", form_part=True)
        if disposition != "form-data" or "name" not in params:
            raise FormParseError(
                "Malformed multipart body: each part needs 'Content-Disposition: form-data; name=...', "
                f"found {found or 'none'!r}"
            )
        self._name = _unescape(params["name"])
        filename = params.get("filename")
        self._filename = None if filename is None else _unescape(filename)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._chunks.append(data[start:end])

    def _part_end(self) -> None:
        content = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        if self._filename is not None:
            self.form.append(
                self._name, File(content, self._filename, type=self._headers.get("content-type", ""))
            )
            return
        if len(content) > MAX_FORM_FIELD_BYTES:
            raise FormParseError(
                f"Form field {self._name!r} is {len(content):,} bytes; a text field may have at most "
                f"{MAX_FORM_FIELD_BYTES:,} (send a value this large as a file: give its part a filename)"
            )
        self.form.append(self._name, content.decode("utf-8", "replace"))

    def _end(self) -> None:
        self.ended = True


def _line_at(body: bytes, at: int) -> bytes:
    """The line of ``body`` that byte ``at`` is on (without its line break), cut short for a message."""
    start = body.rfind(b"\n", 0, at) + 1
    end = body.find(b"\r\n", at)
    return body[start : end if end >= 0 else len(body)][:_QUOTED_BYTES]


def _malformed(
    error: FormParserError, body: bytes, at: int, boundary: str, in_headers: bool
) -> FormParseError:
    """Our error for one that python-multipart raised at byte ``at`` of ``body`` (-1: it names no byte)."""
    if at < 0:
        return FormParseError(f"Cannot parse a multipart body with this boundary: {error}")
    line = _line_at(body, at)
    if in_headers and b":" not in line:
        return FormParseError(f"Malformed multipart body: part header line {line!r} has no ':' (byte {at})")
    if in_headers:
        return FormParseError(
            f"Malformed multipart body at byte {at}, in the part header line {line!r}: {error}"
        )
    return FormParseError(
        f"Malformed multipart body at byte {at}: expected the boundary line {'--' + boundary!r} "
        f"(or {'--' + boundary + '--'!r} at the end), found {line!r}"
    )


def parse_multipart(body: bytes, boundary: str) -> FormData:
    """Parse a multipart/form-data ``body`` whose parts are separated by ``boundary``."""
    delimiter = b"--" + boundary.encode("latin-1")
    # python-multipart expects the body to open with the boundary; RFC 2046 allows a preamble first.
    start = body.find(delimiter)
    if start < 0:
        raise FormParseError(f"Malformed multipart body: the boundary {boundary!r} does not occur in it")
    parts = _Parts()
    try:
        MultipartParser(delimiter[2:], parts.callbacks()).write(body[start:])
    except FormParserError as error:
        offset = getattr(error, "offset", -1)
        at = start + offset if offset >= 0 else -1
        raise _malformed(error, body, at, boundary, parts.in_headers) from None
    except FormParseError as error:
        raise error.with_traceback(None) from None  # raised by our callbacks: their frames are noise
    if not parts.ended:
        raise FormParseError(
            f"Malformed multipart body: it ends without the closing boundary {'--' + boundary + '--'!r}"
        )
    return parts.form


def parse_urlencoded(body: bytes) -> FormData:
    """Parse an application/x-www-form-urlencoded ``body`` (``+`` is a space, UTF-8 escapes)."""
    text = body.decode("utf-8", "replace")
    return FormData(parse_qsl(text, keep_blank_values=True, errors="replace"))


def parse_form(body: bytes, content_type: str | None) -> FormData:
    """Parse a form body according to its Content-Type header."""
    mime, params = parse_header_params(content_type or "")
    if mime not in (MULTIPART, URLENCODED):
        raise FormParseError(
            f"form_data() can only parse {MULTIPART} or {URLENCODED} bodies, "
            f"but the Content-Type is {content_type!r}"
        )
    if len(body) > MAX_FORM_BODY_BYTES:
        raise FormParseError(
            f"form_data(): the body is {len(body):,} bytes; Cloudflare accepts request bodies of at most "
            f"{MAX_FORM_BODY_BYTES:,} bytes (Free and Pro plans)"
        )
    if mime == URLENCODED:
        return parse_urlencoded(body)
    boundary = params.get("boundary")
    if not boundary:
        raise FormParseError(f"Content-Type {content_type!r} has no boundary parameter")
    return parse_multipart(body, boundary)
