"""Static assets as Cloudflare serves them: ``[assets] directory = "./public"``.

A request path maps to a file by the ``html_handling`` rules (307 redirects to the canonical
path, only when the target serves the same file); a miss follows ``not_found_handling``. Files
carry a strong ETag (``If-None-Match`` answers 304), a Content-Type from their extension
(``text/*`` with ``charset=utf-8``) and ``Cache-Control: public, max-age=0, must-revalidate``.
:func:`goes_to_worker` is the router: what reaches the worker and what the assets answer.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote

HtmlHandling = Literal["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"]
NotFoundHandling = Literal["single-page-application", "404-page", "none"]

#: html_handling values (Cloudflare's default first).
HTML_HANDLINGS: tuple[HtmlHandling, ...] = (
    "auto-trailing-slash",
    "force-trailing-slash",
    "drop-trailing-slash",
    "none",
)
#: not_found_handling values (Cloudflare's default last).
NOT_FOUND_HANDLINGS: tuple[NotFoundHandling, ...] = ("single-page-application", "404-page", "none")
#: Files never served from the assets directory (Cloudflare reads them as configuration).
NEVER_SERVED = frozenset({"_headers", "_redirects", ".assetsignore"})
#: Status of html_handling's redirects (Cloudflare: 307).
REDIRECT_STATUS = 307
#: Cache-Control of every asset (Cloudflare's asset worker).
CACHE_CONTROL = "public, max-age=0, must-revalidate"
#: Most route rules in run_worker_first (Cloudflare: 100).
MAX_ROUTE_RULES = 100
#: Characters ``encodeURIComponent`` leaves as they are, besides letters, digits and ``-_.~``.
_URI_COMPONENT_SAFE = "!*'()"
#: The first compatibility date on which a browser navigation prefers an asset (SPA) over the worker.
NAVIGATION_PREFERS_ASSETS_DATE = "2025-04-01"


@dataclass(frozen=True)
class AssetReply:
    """What the assets answer: a file (``path``), a redirect (``location``) or an empty status."""

    status: int
    path: Path | None = None
    location: str | None = None


@dataclass(frozen=True)
class RouteRules:
    """``run_worker_first`` as route rules: paths that go to the worker, and ``!`` paths that don't."""

    to_worker: tuple[re.Pattern[str], ...]
    to_assets: tuple[re.Pattern[str], ...]

    @classmethod
    def parse(cls, rules: tuple[str, ...]) -> RouteRules:
        def pattern(rule: str) -> re.Pattern[str]:
            return re.compile(
                "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", rule))
            )

        return cls(
            tuple(pattern(rule) for rule in rules if not rule.startswith("!")),
            tuple(pattern(rule[1:]) for rule in rules if rule.startswith("!")),
        )

    def worker_first(self, path: str) -> bool | None:
        """True (worker), False (assets) or None (no rule matches ``path``)."""
        if any(p.fullmatch(path) for p in self.to_assets):
            return False
        if any(p.fullmatch(path) for p in self.to_worker):
            return True
        return None


class AssetFiles:
    """The files of one assets directory, and the rules that map request paths onto them."""

    def __init__(
        self, directory: Path, html_handling: HtmlHandling, not_found_handling: NotFoundHandling
    ) -> None:
        self.directory = directory.resolve()
        self.html_handling = html_handling
        self.not_found_handling = not_found_handling
        self._etags: dict[Path, tuple[float, int, str]] = {}

    # --- files ------------------------------------------------------------------------------

    def file(self, url_path: str) -> Path | None:
        """The file at exactly ``url_path`` (decoded, starting with /), if one may be served."""
        parts = [part for part in url_path.split("/") if part]
        if any(part in (".", "..") or "\\" in part for part in parts) or (
            parts and parts[-1] in NEVER_SERVED
        ):
            return None
        candidate = self.directory.joinpath(*parts)
        if not candidate.is_file():
            return None
        resolved = candidate.resolve()
        return resolved if resolved.is_relative_to(self.directory) else None

    def etag(self, path: Path) -> str:
        """A strong ETag of the file's content (recomputed when its size or mtime changes)."""
        stat = path.stat()
        cached = self._etags.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime, stat.st_size):
            return cached[2]
        digest = hashlib.sha256(path.read_bytes() + path.suffix.encode()).hexdigest()[:32]
        self._etags[path] = (stat.st_mtime, stat.st_size, f'"{digest}"')
        return f'"{digest}"'

    @staticmethod
    def content_type(path: Path) -> str | None:
        guessed, _ = mimetypes.guess_type(path.name)
        if guessed is None:
            return None
        return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed

    # --- html_handling ------------------------------------------------------------------------

    def resolve(self, url_path: str) -> AssetReply | None:
        """The file or the redirect ``url_path`` leads to; None when nothing matches."""
        exact = self.file(url_path)
        if exact is not None and (self.html_handling == "none" or not _is_html_alias(url_path)):
            return AssetReply(200, path=exact)
        if self.html_handling == "none":
            return None
        served, canonical = self._html_target(url_path)
        if served is None:
            return None if exact is None else AssetReply(200, path=exact)
        if canonical != url_path:
            return AssetReply(REDIRECT_STATUS, location=canonical)
        return AssetReply(200, path=served)

    def _html_target(self, url_path: str) -> tuple[Path | None, str]:
        """The HTML file ``url_path`` names, and the path that canonically serves it."""
        stem = url_path
        for suffix in ("/index.html", "/index", ".html"):
            if stem.endswith(suffix) and stem != suffix.lstrip("/"):
                stem = stem[: -len(suffix)] or "/"
                break
        stem = stem.rstrip("/") or "/"
        if stem == "/":
            index = self.file("/index.html")
            return index, "/"
        as_file = self.file(f"{stem}.html")
        as_index = self.file(f"{stem}/index.html")
        handling = self.html_handling
        if handling == "force-trailing-slash":
            target = as_index or as_file
            return target, f"{stem}/"
        if handling == "drop-trailing-slash":
            target = as_file or as_index
            return target, stem
        # auto-trailing-slash: a .html file lives without the slash, an index with it.
        if as_file is not None and not (url_path.endswith("/") and as_index is not None):
            return as_file, stem
        return as_index, f"{stem}/"

    # --- not found ---------------------------------------------------------------------------

    def not_found(self, url_path: str) -> AssetReply:
        """What a path no file matches gets, by ``not_found_handling``."""
        if self.not_found_handling == "single-page-application":
            index = self.file("/index.html")
            if index is not None:
                return AssetReply(200, path=index)
        elif self.not_found_handling == "404-page":
            folder = url_path if url_path.endswith("/") else url_path.rsplit("/", 1)[0] + "/"
            while True:
                page = self.file(f"{folder}404.html")
                if page is not None:
                    return AssetReply(404, path=page)
                if folder == "/":
                    break
                folder = folder.rstrip("/").rsplit("/", 1)[0] + "/"
        return AssetReply(404)


def _is_html_alias(url_path: str) -> bool:
    return url_path.endswith((".html", "/index"))


def decode_path(raw_path: str) -> str:
    """``raw_path`` decoded segment by segment, repeated slashes collapsed (a segment that is not
    valid percent-encoded UTF-8 stays as it is)."""
    parts = []
    for part in raw_path.split("/"):
        try:
            parts.append(unquote(part, errors="strict"))
        except UnicodeDecodeError:
            parts.append(part)
    return re.sub("/+", "/", "/".join(parts))


def encode_path(path: str) -> str:
    """A decoded path as Cloudflare writes it canonically: each segment as JavaScript's
    ``encodeURIComponent`` encodes it."""
    return "/".join(quote(part, safe=_URI_COMPONENT_SAFE) for part in path.split("/"))


def goes_to_worker(
    files: AssetFiles,
    rules: RouteRules | bool,
    path: str,
    *,
    has_worker: bool,
    navigation: bool,
) -> bool:
    """Whether a request for ``path`` runs the worker (else the assets answer it), as Cloudflare routes.

    A path no asset matches goes to the worker, unless the ``not_found_handling`` page (the
    single-page app's index, the nearest 404.html) answers it: Cloudflare keeps that page in the
    routing decision when ``run_worker_first`` is a list of rules, and for browser navigations.
    """
    if isinstance(rules, RouteRules):
        decided = rules.worker_first(path)
        if decided is not None:
            return decided
    elif rules:
        return True
    if not has_worker:
        return False
    if files.resolve(path) is not None:
        return False
    if isinstance(rules, RouteRules) or navigation:
        return files.not_found(path).path is None
    return True
