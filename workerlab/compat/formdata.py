"""FormData, Blob and File, shaped like Cloudflare's Python Workers classes."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeAlias

BlobPart: TypeAlias = "str | bytes | bytearray | memoryview | Blob"
FormDataValue: TypeAlias = "str | Blob"
FormDataEntry: TypeAlias = "str | File"

#: The name a Blob gets when it is put into a FormData without a filename (Fetch standard).
DEFAULT_BLOB_FILENAME = "blob"


def _normalize_type(content_type: str | None) -> str:
    # The File API lower-cases the type and drops one with characters outside U+0020..U+007E.
    if not content_type:
        return ""
    if any(not (" " <= c <= "~") for c in content_type):
        return ""
    return content_type.lower()


def _part_bytes(part: object, endings: str) -> builtins.bytes:
    if isinstance(part, str):
        if endings == "native":
            part = part.replace("\r\n", "\n").replace("\r", "\n")
        return part.encode()
    if isinstance(part, builtins.bytes | bytearray | memoryview):
        return builtins.bytes(part)
    if isinstance(part, Blob):
        return part._data
    raise TypeError(f"Blob parts must be str, bytes or Blob, got {type(part).__name__}")


def _join_parts(parts: object, endings: str | None) -> tuple[builtins.bytes, Blob | None]:
    """The bytes of ``parts`` (a single part or an iterable of them), and the single Blob if any."""
    if endings not in (None, "transparent", "native"):
        raise ValueError(f"Blob endings must be 'transparent' or 'native', got {endings!r}")
    mode = endings or "transparent"
    if isinstance(parts, str | builtins.bytes | bytearray | memoryview | Blob):
        return _part_bytes(parts, mode), parts if isinstance(parts, Blob) else None
    if not isinstance(parts, Iterable):
        raise TypeError(f"Blob parts must be str, bytes, Blob or a list of them, got {type(parts).__name__}")
    return b"".join(_part_bytes(p, mode) for p in parts), None


class Blob:
    """Immutable bytes with a MIME type: ``Blob(parts, type="")``.

    ``parts`` is one str / bytes / Blob or an iterable of them (str parts are UTF-8).
    The type may also be given as ``content_type=`` (the name Cloudflare's SDK uses); a
    single Blob part passes on its type when none is given.
    """

    __slots__ = ("_data", "_type")

    _data: builtins.bytes
    _type: str

    def __init__(
        self,
        parts: Iterable[BlobPart] | BlobPart = (),
        type: str | None = None,
        endings: str | None = None,
        *,
        content_type: str | None = None,
    ) -> None:
        self._data, single = _join_parts(parts, endings)
        chosen = type if type is not None else content_type
        if chosen is None and single is not None:
            chosen = single._type
        self._type = _normalize_type(chosen)

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self._data)

    @property
    def type(self) -> str:
        """The MIME type, lower-cased ("" when unknown)."""
        return self._type

    @property
    def content_type(self) -> str:
        """Alias of :attr:`type`, as Cloudflare's SDK names it."""
        return self._type

    def slice(
        self, start: int | None = None, end: int | None = None, content_type: str | None = None
    ) -> Blob:
        """A Blob of the bytes from ``start`` to ``end`` (negative counts from the end)."""
        return Blob(self._data[start:end], type=content_type or "")

    async def text(self) -> str:
        return self._data.decode("utf-8", "replace")

    async def bytes(self) -> builtins.bytes:
        return self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, type={self._type!r})"


class File(Blob):
    """A Blob with a file name: ``File(parts, name, type="")`` (``filename=`` also accepted).

    ``last_modified`` is milliseconds since the epoch; it is 0 unless given, since nothing
    here reads the time.
    """

    __slots__ = ("_last_modified", "_name")

    _name: str
    _last_modified: int

    def __init__(
        self,
        parts: Iterable[BlobPart] | BlobPart = (),
        name: str | None = None,
        type: str | None = None,
        endings: str | None = None,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        last_modified: int | None = None,
    ) -> None:
        super().__init__(parts, type, endings, content_type=content_type)
        chosen = name if name is not None else filename
        if not isinstance(chosen, str):
            raise TypeError(f"File needs a name (a str) as its second argument, got {chosen!r}")
        self._name = chosen
        if last_modified is None and isinstance(parts, File):
            last_modified = parts._last_modified
        self._last_modified = last_modified or 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def last_modified(self) -> int:
        return self._last_modified

    def __repr__(self) -> str:
        return f"File(name={self._name!r}, size={self.size}, type={self._type!r})"


def _entry_value(name: str, value: object, filename: str | None) -> FormDataEntry:
    if not isinstance(name, str):
        raise TypeError(f"FormData names must be str, got {type(name).__name__}")
    if isinstance(value, str):
        if filename is not None:
            raise TypeError(
                f"FormData entry {name!r}: a filename can only be given with a Blob or File value"
            )
        return value
    if isinstance(value, Blob):
        # As in the Fetch standard: a Blob becomes a File named "blob"; a filename renames a File.
        if isinstance(value, File) and filename is None:
            return value
        default = value.name if isinstance(value, File) else DEFAULT_BLOB_FILENAME
        return File(value, filename if filename is not None else default, last_modified=None)
    raise TypeError(f"FormData entry {name!r}: values must be str, Blob or File, got {type(value).__name__}")


class FormData:
    """An ordered list of form entries; a name may appear more than once.

    Values are str or File (a Blob put in becomes a File named ``"blob"`` unless a filename
    is given). ``get`` / ``[]`` return the first value of a name; ``get_all`` every one.
    ``keys()``, ``values()``, ``items()`` and iteration list every entry in order, so a name
    added twice appears twice (as JS ``FormData`` does); ``len()`` counts entries.
    """

    __slots__ = ("_entries",)

    def __init__(
        self,
        form_data: FormData | Mapping[str, FormDataValue] | Iterable[tuple[str, FormDataValue]] | None = None,
    ) -> None:
        self._entries: list[tuple[str, FormDataEntry]] = []
        if form_data is None:
            return
        if isinstance(form_data, FormData):
            self._entries = list(form_data._entries)
            return
        pairs = form_data.items() if isinstance(form_data, Mapping) else form_data
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"Each FormData entry must be a (name, value) pair, got {pair!r}")
            self.append(pair[0], pair[1])

    def append(self, name: str, value: FormDataValue, filename: str | None = None) -> None:
        """Add an entry, keeping the ones with the same name."""
        self._entries.append((name, _entry_value(name, value, filename)))

    def set(self, name: str, value: FormDataValue, filename: str | None = None) -> None:
        """Replace every entry of ``name`` with one entry (in the place of the first)."""
        entry = (name, _entry_value(name, value, filename))
        result: list[tuple[str, FormDataEntry]] = []
        placed = False
        for existing in self._entries:
            if existing[0] != name:
                result.append(existing)
            elif not placed:
                result.append(entry)
                placed = True
        if not placed:
            result.append(entry)
        self._entries = result

    def get(self, name: str, default: FormDataEntry | None = None) -> FormDataEntry | None:
        """The first value of ``name``, or ``default`` when there is none."""
        for key, value in self._entries:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[FormDataEntry]:
        """Every value of ``name``, in order (an empty list when there is none)."""
        return [value for key, value in self._entries if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self._entries)

    def delete(self, name: str) -> None:
        """Remove every entry of ``name`` (nothing happens when there is none)."""
        self._entries = [entry for entry in self._entries if entry[0] != name]

    def keys(self) -> list[str]:
        return [key for key, _ in self._entries]

    def values(self) -> list[FormDataEntry]:
        return [value for _, value in self._entries]

    def items(self) -> list[tuple[str, FormDataEntry]]:
        return list(self._entries)

    def __getitem__(self, name: str) -> FormDataEntry:
        for key, value in self._entries:
            if key == name:
                return value
        raise KeyError(name)

    def __setitem__(self, name: str, value: FormDataValue) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.has(name):
            raise KeyError(name)
        self.delete(name)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"FormData({self._entries!r})"
