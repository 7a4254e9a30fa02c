"""Headers: a case-insensitive, multi-valued header list shaped like JS ``Headers``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Self, TypeAlias, TypeVar, final, overload

HeadersInit: TypeAlias = "Headers | Mapping[str, Any] | Iterable[tuple[str | bytes, str | bytes]] | None"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Leading and trailing HTTP whitespace is stripped from values, as the Fetch standard does.
_HTTP_WHITESPACE = " \t\r\n"
_SET_COOKIE = "set-cookie"
# pop() without a default: None cannot mark that, it may be the default given.
_ABSENT: Any = object()
_T = TypeVar("_T")


def _header_name(name: object) -> str:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    if not isinstance(name, str):
        raise TypeError(f"Header names must be str or bytes, got {type(name).__name__}")
    if _TOKEN.fullmatch(name) is None:
        raise TypeError(
            f"Invalid header name {name!r}: expected an HTTP token "
            "(letters, digits and !#$%&'*+-.^_`|~, at least one character)"
        )
    return name.lower()


def _header_value(name: str, value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    elif isinstance(value, bool):
        # JS turns a boolean into "true"/"false"; str() would give "True".
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    elif not isinstance(value, str):
        raise TypeError(f"Header {name!r}: values must be str or bytes, got {type(value).__name__}")
    value = value.strip(_HTTP_WHITESPACE)
    if "\r" in value or "\n" in value or "\0" in value:
        raise TypeError(f"Invalid value for header {name!r}: {value!r} contains CR, LF or NUL")
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise TypeError(
                f"Invalid value for header {name!r}: {value!r} has characters above U+00FF "
                "(header values are byte strings; percent-encode or base64 the text)"
            ) from None
    return value


class _Pairs:
    """Where headers keep their pairs: a plain class, so that ``isinstance`` against it stays
    cheap on the request path (against the ABC-derived :class:`Headers` it is a Python call)."""

    __slots__ = ("_items", "_raw")

    _items: list[tuple[str, str]]
    _raw: list[tuple[bytes, bytes]] | None

    def _decoded(self) -> list[tuple[str, str]]:
        raw = self._raw
        if raw is not None:
            self._items = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
            self._raw = None
        return self._items


class Headers(_Pairs, MutableMapping[str, str]):
    """HTTP headers with case-insensitive names, like the JS ``Headers`` Cloudflare exposes.

    Names are lower-cased. ``get(name)`` and ``headers[name]`` give every value of a name
    joined with ``", "`` (``[]`` raises ``KeyError`` when the name is absent; ``get`` returns
    its default); ``get_all(name)`` gives the values one by one (``None`` when absent, like
    the ``http.client.HTTPMessage`` Cloudflare hands to Python).

    Iteration, ``keys()`` and ``len()`` go over the distinct header *names*, sorted, as
    iterating a Cloudflare request's headers yields names (a mapping of name to value) and as
    JS ``Headers`` sorts them. ``items()`` and ``values()`` pair each name with its combined
    value, except ``set-cookie``, whose values are never combined and come one pair each.
    ``dict(headers)`` therefore works. ``keys()``, ``items()`` and ``values()`` return lists.

    A ``MutableMapping`` of name to combined value: ``update``, ``pop``, ``setdefault`` and
    ``==`` work as on a dict. What ``[]`` means is fixed here; a subclass may only say what an
    absent name reads as (:meth:`__missing__`).
    """

    __slots__ = ()

    def __init__(self, init: HeadersInit = None) -> None:
        self._raw = None
        self._items = []
        if init is None:
            return
        if isinstance(init, _Pairs):
            self._items = list(init._decoded())
            return
        pairs: Iterable[Any] = init.items() if isinstance(init, Mapping) else init
        if isinstance(pairs, str | bytes):
            raise TypeError(
                "Headers expects a dict, a list of (name, value) pairs or a Headers, "
                f"got {type(init).__name__}"
            )
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"Each header must be a (name, value) pair, got {pair!r}")
            self.append(pair[0], pair[1])

    @classmethod
    def _from_raw(cls, raw: list[tuple[bytes, bytes]]) -> Self:
        """Headers over raw ASGI pairs (lower-case names), decoded only when first read."""
        self = cls.__new__(cls)
        self._raw = raw
        self._items = []
        return self

    def _raw_pairs(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI pairs (lower-case names), in the order they were added."""
        if self._raw is not None:
            return list(self._raw)
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._items]

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...
    def get(self, name: str, default: object = None) -> object:
        """Every value of ``name`` joined with ``", "``, or ``default`` when absent."""
        key = name.lower()
        values = [v for k, v in self._decoded() if k == key]
        return ", ".join(values) if values else default

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        """Each value of ``name`` separately, or ``default`` (None) when absent."""
        key = name.lower()
        values = [v for k, v in self._decoded() if k == key]
        return values if values else default

    def has(self, name: str) -> bool:
        key = name.lower()
        return any(k == key for k, _ in self._decoded())

    def set(self, name: str, value: str | bytes) -> None:
        """Replace every value of ``name`` with ``value``."""
        key = _header_name(name)
        value = _header_value(key, value)
        self._items = [(k, v) for k, v in self._decoded() if k != key]
        self._items.append((key, value))

    def append(self, name: str | bytes, value: str | bytes) -> None:
        """Add a value to ``name``, keeping the ones it has."""
        key = _header_name(name)
        self._decoded().append((key, _header_value(key, value)))

    def delete(self, name: str) -> None:
        """Remove every value of ``name`` (nothing happens when it is absent)."""
        key = name.lower()
        self._items = [(k, v) for k, v in self._decoded() if k != key]

    # Lists rather than the views Mapping would give: repeated set-cookie pairs are not a set.
    def keys(self) -> list[str]:  # type: ignore[override]
        return sorted({k for k, _ in self._decoded()})

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        result: list[tuple[str, str]] = []
        for name in self.keys():
            values = [v for k, v in self._items if k == name]
            if name == _SET_COOKIE:
                result.extend((name, v) for v in values)
            else:
                result.append((name, ", ".join(values)))
        return result

    def values(self) -> list[str]:  # type: ignore[override]
        return [v for _, v in self.items()]

    def copy(self) -> Headers:
        return Headers(self)

    @final
    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            return self.__missing__(name)
        return value

    def __missing__(self, name: str) -> str:
        """What ``[]`` gives for an absent name: here a KeyError. As with ``dict`` and
        ``collections.UserDict``, this is the one thing a subclass may change about ``[]``."""
        raise KeyError(name)

    def __setitem__(self, name: str, value: str | bytes) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.has(name):
            raise KeyError(name)
        self.delete(name)

    # The MutableMapping versions of these find an absent name through a KeyError from [],
    # which a subclass's __missing__ may not raise.
    @overload
    def pop(self, name: str) -> str: ...
    @overload
    def pop(self, name: str, default: str) -> str: ...
    @overload
    def pop(self, name: str, default: _T) -> str | _T: ...
    def pop(self, name: str, default: object = _ABSENT) -> object:
        """Remove ``name`` and return its combined value (``default`` or KeyError when absent)."""
        value = self.get(name)
        if value is None:
            if default is _ABSENT:
                raise KeyError(name)
            return default
        self.delete(name)
        return value

    def setdefault(self, name: str, default: str | bytes) -> str:
        """The combined value of ``name``, after setting it to ``default`` when absent."""
        value = self.get(name)
        if value is None:
            self.set(name, default)
            value = self._items[-1][1]  # set() puts the new value last
        return value

    def clear(self) -> None:
        self._raw = None
        self._items = []

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len({k for k, _ in self._decoded()})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self.items() == other.items()
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


class RequestHeaders(Headers):
    """A request's headers. As on Cloudflare, where ``request.headers`` is an
    ``http.client.HTTPMessage``, a missing name reads as None rather than raising KeyError."""

    __slots__ = ()

    def __missing__(self, name: str) -> None:  # type: ignore[override]
        return None
