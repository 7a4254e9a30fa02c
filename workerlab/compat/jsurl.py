"""JavaScript's ``URL`` and ``URLSearchParams``, for ``from js import URL``.

Parsing follows what Workers code relies on (scheme and host lower-cased, default port dropped,
``/`` for an empty path, ``search`` with its ``?``); it is not a full WHATWG URL parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urljoin, urlsplit, urlunsplit

from workerlab.compat.ffi import JsException
from workerlab.compat.jsvalues import JsArray, JsObject, JsProxy

#: Ports a URL does not show for its scheme (WHATWG URL "special schemes").
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def _invalid(url: str) -> JsException:
    return JsException("TypeError", f"Invalid URL string. ({url!r})")


class URLSearchParams(JsProxy):
    """``URLSearchParams.new(init)``: ``get``, ``getAll``, ``has``, ``set``, ``append``, ``delete``,
    ``toString()``; iteration gives ``[name, value]`` pairs."""

    __slots__ = ("_on_change", "_pairs")

    def __init__(self, pairs: list[tuple[str, str]], on_change: Callable[[], None] | None = None) -> None:
        self._pairs = pairs
        self._on_change = on_change

    @classmethod
    def new(cls, init: str | Iterable[Any] | JsObject | None = None) -> URLSearchParams:
        if init is None:
            return cls([])
        if isinstance(init, str):
            return cls(parse_qsl(init.removeprefix("?"), keep_blank_values=True))
        if isinstance(init, URLSearchParams):
            return cls(list(init._pairs))
        items: Iterable[Any] = dict.items(init) if isinstance(init, JsObject) else init
        return cls([(str(pair[0]), str(pair[1])) for pair in items])

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    @property
    def size(self) -> int:
        return len(self._pairs)

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or None (JS ``null``) when absent."""
        return next((value for key, value in self._pairs if key == name), None)

    def getAll(self, name: str) -> JsArray:
        return JsArray(value for key, value in self._pairs if key == name)

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self._pairs)

    def append(self, name: str, value: Any) -> None:
        self._pairs.append((name, str(value)))
        self._changed()

    def set(self, name: str, value: Any) -> None:
        kept = [pair for pair in self._pairs if pair[0] != name]
        first = next((i for i, (key, _) in enumerate(self._pairs) if key == name), len(self._pairs))
        kept.insert(min(first, len(kept)), (name, str(value)))
        self._pairs[:] = kept
        self._changed()

    def delete(self, name: str) -> None:
        self._pairs[:] = [pair for pair in self._pairs if pair[0] != name]
        self._changed()

    def sort(self) -> None:
        self._pairs.sort(key=lambda pair: pair[0])
        self._changed()

    def entries(self) -> Iterator[JsArray]:
        return (JsArray(pair) for pair in list(self._pairs))

    __iter__ = entries

    def keys(self) -> Iterator[str]:
        return (key for key, _ in list(self._pairs))

    def values(self) -> Iterator[str]:
        return (value for _, value in list(self._pairs))

    def forEach(self, callback: Callable[..., Any]) -> None:
        for key, value in list(self._pairs):
            callback(value, key, self)

    def toString(self) -> str:
        """The pairs as ``application/x-www-form-urlencoded`` (spaces as ``+``)."""
        return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in self._pairs)

    __str__ = toString

    def __repr__(self) -> str:
        return f"URLSearchParams({self.toString()!r})"


class URL(JsProxy):
    """``URL.new(url, base=None)``: ``href``, ``origin``, ``protocol``, ``host``, ``hostname``,
    ``port``, ``pathname``, ``search``, ``searchParams``, ``hash``; ``pathname``, ``search`` and
    ``hash`` can be set. An invalid URL raises ``JsException`` (TypeError), as in JS."""

    __slots__ = ("_fragment", "_netloc", "_params", "_path", "_query", "_scheme")

    def __init__(self, url: str, base: str | URL | None = None) -> None:
        text = str(url)
        if base is not None:
            base_text = str(base)
            if not urlsplit(base_text).scheme:
                raise _invalid(base_text)
            text = urljoin(base_text, text)
        try:
            parts = urlsplit(text.strip())
            port = parts.port
        except ValueError:
            raise _invalid(text) from None
        if not parts.scheme or (parts.scheme in DEFAULT_PORTS and not parts.hostname):
            raise _invalid(text)
        self._scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        if port is not None and port != DEFAULT_PORTS.get(self._scheme):
            host = f"{host}:{port}"
        userinfo = parts.netloc.rpartition("@")[0]
        self._netloc = f"{userinfo}@{host}" if userinfo else host
        self._path = parts.path or ("/" if self._scheme in DEFAULT_PORTS else "")
        self._query = parts.query
        self._fragment = parts.fragment
        self._params: URLSearchParams | None = None

    @classmethod
    def new(cls, url: str | URL, base: str | URL | None = None) -> URL:
        return cls(str(url), base)

    @staticmethod
    def canParse(url: str, base: str | None = None) -> bool:
        try:
            URL(url, base)
        except JsException:
            return False
        return True

    @property
    def href(self) -> str:
        return urlunsplit((self._scheme, self._netloc, self._path, self._query, self._fragment))

    @property
    def protocol(self) -> str:
        return f"{self._scheme}:"

    @property
    def host(self) -> str:
        return self._netloc.rpartition("@")[2]

    @property
    def hostname(self) -> str:
        host = self.host
        if host.startswith("["):
            return host[: host.index("]") + 1]
        return host.rpartition(":")[0] if ":" in host else host

    @property
    def port(self) -> str:
        host = self.host
        tail = host[host.index("]") + 1 :] if host.startswith("[") else host
        return tail.rpartition(":")[2] if ":" in tail else ""

    @property
    def origin(self) -> str:
        return f"{self._scheme}://{self.host}" if self._scheme in DEFAULT_PORTS else "null"

    @property
    def username(self) -> str:
        return self._netloc.rpartition("@")[0].partition(":")[0]

    @property
    def password(self) -> str:
        return self._netloc.rpartition("@")[0].partition(":")[2]

    @property
    def pathname(self) -> str:
        return self._path

    @pathname.setter
    def pathname(self, value: str) -> None:
        self._path = value if value.startswith("/") else f"/{value}"

    @property
    def search(self) -> str:
        """The query with its leading ``?``, or ``""`` when there is none."""
        return f"?{self._query}" if self._query else ""

    @search.setter
    def search(self, value: str) -> None:
        self._query = value.removeprefix("?")
        if self._params is not None:
            self._params._pairs[:] = parse_qsl(self._query, keep_blank_values=True)

    @property
    def searchParams(self) -> URLSearchParams:
        """The query's parameters; changing them changes the URL."""
        if self._params is None:
            self._params = URLSearchParams(
                parse_qsl(self._query, keep_blank_values=True), on_change=self._params_changed
            )
        return self._params

    def _params_changed(self) -> None:
        if self._params is not None:
            self._query = self._params.toString()

    @property
    def hash(self) -> str:
        return f"#{self._fragment}" if self._fragment else ""

    @hash.setter
    def hash(self, value: str) -> None:
        self._fragment = value.removeprefix("#")

    def toString(self) -> str:
        return self.href

    toJSON = toString
    __str__ = toString

    def __repr__(self) -> str:
        return f"URL({self.href!r})"
