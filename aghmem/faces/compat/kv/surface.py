"""The key-value surface as the guard sees it (COMPAT.md §0.2, §3.1): it
owns its alias and `GET /api/memory?agentId=…`, and shares `POST
/api/memory` with the native API (the dispatcher checks the branch's grant
once it has read the body). Refusals are the seed's `{"error": …}`."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.types import Scope

from ...json_answer import JSONResponse
from ...surface import Surface

NAME = "kv"
ALIAS = "/compat/kv/api/memory"
SHARED = "/api/memory"


def has_agent_id(scope: Scope) -> bool:
    """The query names `agentId` (any value, "" included)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "agentId" in query


def owns(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == ALIAS or (path == SHARED and scope.get("method") in ("GET", "HEAD") and has_agent_id(scope))


def shares(scope: Scope) -> bool:
    return scope.get("path") == SHARED and scope.get("method") == "POST"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def refuse(status: int, detail: str, path: str) -> Response:
    return error(status, "Unauthorized" if status == 401 else "Forbidden")


SURFACE = Surface(NAME, owns=owns, refuse=refuse, shares=shares)
