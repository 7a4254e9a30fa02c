"""Form bodies: multipart/form-data and application/x-www-form-urlencoded, both ways."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl

from workerlab.compat.formdata import File, FormData

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
#: Content type of a file part that has none (RFC 7578 section 4.4).
DEFAULT_FILE_TYPE = "application/octet-stream"

_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')
# Form part names are quoted without backslash escapes (HTML standard), so a backslash is literal.
_FORM_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("[^"]*"|[^;]*))?')
_QUOTED_PAIR = re.compile(r"\\(.)")
# Names and filenames escape these three characters (HTML standard, multipart/form-data encoding).
_ESCAPES = {'"': "%22", "\r": "%0D", "\n": "%0A"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_UNESCAPE = re.compile("|".join(_UNESCAPES), re.IGNORECASE)


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


def _part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise FormParseError(f"Malformed multipart body: part header line {line[:80]!r} has no ':'")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("utf-8", "replace")
    return headers


def parse_multipart(body: bytes, boundary: str) -> FormData:
    """Parse a multipart/form-data ``body`` whose parts are separated by ``boundary``."""
    delimiter = b"--" + boundary.encode("latin-1")
    form = FormData()
    pos = body.find(delimiter)
    if pos < 0:
        raise FormParseError(f"Malformed multipart body: the boundary {boundary!r} does not occur in it")
    pos += len(delimiter)
    while not body.startswith(b"--", pos):
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            raise FormParseError("Malformed multipart body: it ends without the closing boundary")
        start = line_end + 2
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise FormParseError("Malformed multipart body: it ends without the closing boundary")
        part = body[start:end]
        if part.startswith(b"\r\n"):
            head, content = b"", part[2:]
        else:
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep:
                raise FormParseError("Malformed multipart body: a part has no blank line after its headers")
        headers = _part_headers(head)
        disposition, params = parse_header_params(headers.get("content-disposition", ""), form_part=True)
        if disposition != "form-data" or "name" not in params:
            raise FormParseError(
                "Malformed multipart body: each part needs 'Content-Disposition: form-data; name=...', "
                f"found {headers.get('content-disposition', 'none')!r}"
            )
        name = _UNESCAPE.sub(lambda m: _UNESCAPES[m.group(0).upper()], params["name"])
        if "filename" in params:
            filename = _UNESCAPE.sub(lambda m: _UNESCAPES[m.group(0).upper()], params["filename"])
            form.append(name, File(content, filename, type=headers.get("content-type", "")))
        else:
            form.append(name, content.decode("utf-8", "replace"))
        pos = end + 2 + len(delimiter)
    return form


def parse_urlencoded(body: bytes) -> FormData:
    """Parse an application/x-www-form-urlencoded ``body`` (``+`` is a space, UTF-8 escapes)."""
    text = body.decode("utf-8", "replace")
    return FormData(parse_qsl(text, keep_blank_values=True, errors="replace"))


def parse_form(body: bytes, content_type: str | None) -> FormData:
    """Parse a form body according to its Content-Type header."""
    mime, params = parse_header_params(content_type or "")
    if mime == MULTIPART:
        boundary = params.get("boundary")
        if not boundary:
            raise FormParseError(f"Content-Type {content_type!r} has no boundary parameter")
        return parse_multipart(body, boundary)
    if mime == URLENCODED:
        return parse_urlencoded(body)
    raise FormParseError(
        f"form_data() can only parse {MULTIPART} or {URLENCODED} bodies, "
        f"but the Content-Type is {content_type!r}"
    )
