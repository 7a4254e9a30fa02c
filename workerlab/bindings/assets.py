"""``[assets]``: the static files served beside the worker, and ``env.ASSETS.fetch(request)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..assets import (
    CACHE_CONTROL,
    HTML_HANDLINGS,
    MAX_ROUTE_RULES,
    NAVIGATION_PREFERS_ASSETS_DATE,
    NOT_FOUND_HANDLINGS,
    REDIRECT_STATUS,
    AssetFiles,
    HtmlHandling,
    NotFoundHandling,
    RouteRules,
    decode_path,
    encode_path,
    goes_to_worker,
)
from ..config.source import MISSING, ConfigSource, keys

if TYPE_CHECKING:
    from ..compat.request import Request
    from ..compat.response import Response
    from .registry import BindingSite, Mode


@dataclass(frozen=True)
class Assets:
    """The ``[assets]`` table; ``binding`` is ``""`` when the worker gets no ``env.ASSETS``."""

    binding: str
    directory: Path
    html_handling: HtmlHandling = "auto-trailing-slash"
    not_found_handling: NotFoundHandling = "none"
    run_worker_first: bool | tuple[str, ...] = False


class AssetsBinding:
    """``env.ASSETS``, and the router `workerlab dev` and the harness put in front of the worker."""

    def __init__(self, spec: Assets, navigation_prefers_assets: bool) -> None:
        self.files = AssetFiles(spec.directory, spec.html_handling, spec.not_found_handling)
        first = spec.run_worker_first
        self._rules: RouteRules | bool = RouteRules.parse(first) if isinstance(first, tuple) else first
        self._navigation_prefers_assets = navigation_prefers_assets

    async def fetch(self, resource: str | Request, **init: Any) -> Response:
        """Serve ``resource`` from the assets (only its path and query count), never the worker."""
        from ..compat.request import Request

        request = resource if isinstance(resource, Request) and not init else Request(resource, **init)
        parts = urlsplit(request.url)
        return self.serve(request.method, parts.path or "/", parts.query, dict(request.headers.items()))

    def worker_first(self, path: str, headers: dict[str, str], *, has_worker: bool) -> bool:
        navigation = self._navigation_prefers_assets and headers.get("sec-fetch-mode") == "navigate"
        return goes_to_worker(self.files, self._rules, path, has_worker=has_worker, navigation=navigation)

    def serve(self, method: str, raw_path: str, query: str, headers: dict[str, str]) -> Response:
        """The assets' answer to a request (``headers`` with lower-case names)."""
        from ..compat.response import Response

        suffix = f"?{query}" if query else ""
        path = decode_path(raw_path)
        reply = self.files.resolve(path)
        if reply is None:
            reply = self.files.not_found(path)
            if reply.path is None:
                return Response(None, status=reply.status)
        if method not in ("GET", "HEAD"):
            return Response(None, status=405, headers={"allow": "GET, HEAD"})
        # html_handling's redirect, or the canonical spelling of the path (decoded, then encoded again).
        location = encode_path(reply.location if reply.location is not None else path)
        if reply.location is not None or location != raw_path:
            return Response(None, status=REDIRECT_STATUS, headers={"location": location + suffix})
        assert reply.path is not None
        etag = self.files.etag(reply.path)
        response_headers = {"etag": etag}
        content_type = self.files.content_type(reply.path)
        if content_type is not None:
            response_headers["content-type"] = content_type
        if "authorization" not in headers and "range" not in headers:
            response_headers["cache-control"] = CACHE_CONTROL
        if headers.get("if-none-match") in (etag, f"W/{etag}"):
            return Response(None, status=304, headers=response_headers)
        body = b"" if method == "HEAD" else reply.path.read_bytes()
        response = Response(body, status=reply.status, headers=response_headers)
        if content_type is None:
            response.headers.delete("content-type")
        return response


class _AssetsKind:
    section = "assets"
    label = "Assets"
    spec = Assets
    _keys = keys(
        "directory binding html_handling not_found_handling run_worker_first experimental_serve_directly"
    )

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[Assets, str]]:
        table = src.table_at(value, key)
        if not table:
            return []
        src.check_keys(table, key, self._keys)
        directory = (src.root / src.string(table, "directory", key)).resolve()
        if not directory.is_dir():
            raise src.error(
                f"{key}.directory", "an existing folder", table["directory"], f"no folder {directory}"
            )
        html = src.string(table, "html_handling", key, default=HTML_HANDLINGS[0])
        if html not in HTML_HANDLINGS:
            raise src.error(f"{key}.html_handling", " or ".join(f'"{h}"' for h in HTML_HANDLINGS), html)
        not_found = src.string(table, "not_found_handling", key, default=NOT_FOUND_HANDLINGS[-1])
        if not_found not in NOT_FOUND_HANDLINGS:
            raise src.error(
                f"{key}.not_found_handling", " or ".join(f'"{h}"' for h in NOT_FOUND_HANDLINGS), not_found
            )
        spec = Assets(
            src.string(table, "binding", key, default=""),
            directory,
            html,
            not_found,
            self._run_worker_first(src, table.get("run_worker_first", MISSING), f"{key}.run_worker_first"),
        )
        return [(spec, key)]

    @staticmethod
    def _run_worker_first(src: ConfigSource, value: Any, key: str) -> bool | tuple[str, ...]:
        if value is MISSING or isinstance(value, bool):
            return value is True
        rules = src.strings(value, key)
        expected = f'true, false, or 1 to {MAX_ROUTE_RULES} route rules like "/api/*" or "!/static/*"'
        if not rules or len(rules) > MAX_ROUTE_RULES or not all(r.startswith(("/", "!/")) for r in rules):
            raise src.error(key, expected, value)
        if all(rule.startswith("!") for rule in rules):
            raise src.error(key, expected, value, "negative rules alone send nothing to the worker")
        return rules

    async def open(self, spec: Assets, site: BindingSite) -> AssetsBinding:
        date = site.config.compatibility_date or ""
        return AssetsBinding(spec, navigation_prefers_assets=date >= NAVIGATION_PREFERS_ASSETS_DATE)

    def describe(self, spec: Assets, site: BindingSite) -> tuple[str, Mode]:
        return str(spec.directory), "local"


KIND = _AssetsKind()
