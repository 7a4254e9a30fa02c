"""D1 routes: the databases, their tables with row counts and columns, rows page by page, and a
read-only SQL console (see :mod:`.readonly_sql`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..bindings.d1 import D1DatabaseBinding
from .readonly_sql import QueryResult, console, describe_tables, quoted, read
from .responses import ApiError, json_response, jsonable, not_found, query_int, read_json, required_string
from .state import binding_of, bindings_of_kind, session_of

#: Rows shown per page unless the request asks for another count.
DEFAULT_ROWS_PER_PAGE = 50
#: Most rows one page may ask for.
MAX_ROWS_PER_PAGE = 1_000

Query = Callable[..., QueryResult]


def _database_file(request: Request) -> Path:
    database = binding_of(request, D1DatabaseBinding, "D1 database").database
    if database.path is None:
        raise ApiError(
            409,
            "in-memory",
            "This session keeps D1 in memory; the inspector reads databases persisted to files "
            "(workerlab dev always persists them)",
        )
    return database.path


def _result_document(result: QueryResult) -> dict[str, Any]:
    return {
        "columns": result.columns,
        "rows": [jsonable(list(row)) for row in result.rows],
        "truncated": result.truncated,
        "duration_ms": result.duration_ms,
    }


async def list_databases(request: Request) -> Response:
    found = bindings_of_kind(session_of(request), D1DatabaseBinding)
    return json_response({"databases": [{"worker": w, "binding": b} for w, b, _ in found]})


async def list_tables(request: Request) -> Response:
    path = _database_file(request)
    return json_response({"tables": await read(path, describe_tables)})


async def table_rows(request: Request) -> Response:
    path = _database_file(request)
    table = request.path_params["table"]
    offset = query_int(request, "offset", 0, low=0, high=2**62)
    limit = query_int(request, "limit", DEFAULT_ROWS_PER_PAGE, low=1, high=MAX_ROWS_PER_PAGE)

    def page(query: Query) -> QueryResult:
        known = query("SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?", table)
        if not known.rows:
            raise not_found(f"The database has no table named {table!r}")
        return query(f"SELECT * FROM {quoted(table)} LIMIT ? OFFSET ?", limit + 1, offset)

    result = await read(path, page)
    more = len(result.rows) > limit
    document = _result_document(result)
    document["rows"] = document["rows"][:limit]
    return json_response({**document, "offset": offset, "next_offset": offset + limit if more else None})


async def run_query(request: Request) -> Response:
    path = _database_file(request)
    sql = required_string(await read_json(request), "sql")
    return json_response(_result_document(await console(path, sql)))


ROUTES = [
    Route("/api/d1", list_databases, methods=["GET"]),
    Route("/api/d1/{worker}/{binding}/tables", list_tables, methods=["GET"]),
    Route("/api/d1/{worker}/{binding}/tables/{table}/rows", table_rows, methods=["GET"]),
    Route("/api/d1/{worker}/{binding}/query", run_query, methods=["POST"]),
]
