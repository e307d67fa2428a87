"""The CFG envelopes (COMPAT §2.1): `{status, message, data}` on success,
RFC 7807 `application/problem+json` on error. The one place where aghmem
errors become CFG answers."""

from __future__ import annotations

import http
import logging
import secrets
from typing import Any

from starlette.responses import Response

from ....errors import (
    AghmemError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationError,
)
from ....features.configs.cursor import InvalidCursor
from ...json_answer import JSONResponse

log = logging.getLogger("aghmem.compat.cfg")
PROBLEM = "application/problem+json"


class InvalidIfMatch(ValidationError):
    """A weak ETag in If-Match (400 `invalid_if_match`)."""


class ProblemResponse(JSONResponse):
    media_type = PROBLEM


def success(status: int, message: str, data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "data": data}, status_code=status, headers=headers)


def problem(status: int, code: str, detail: str, instance: str, *, extra: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body = {"type": "about:blank", "title": http.HTTPStatus(status).phrase, "status": status, "detail": detail,
            "code": code, "instance": instance, **(extra or {})}
    return ProblemResponse(body, status_code=status, headers=headers)


# (error class, status, code), most specific first.
MAPPING: tuple[tuple[type[AghmemError], int, str], ...] = (
    (InvalidCursor, 400, "invalid_cursor"),
    (InvalidIfMatch, 400, "invalid_if_match"),
    (ValidationError, 400, "invalid_input"),
    (Rejected, 400, "invalid_input"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (TooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (RateLimited, 429, "too_many_requests"),
    (Unavailable, 503, "unavailable"),
)


def from_error(exc: AghmemError, instance: str) -> Response:
    if exc.code == "memory.precondition_failed":
        return problem(412, "precondition_failed", exc.message, instance)
    if isinstance(exc, Conflict):
        extra = {"references": exc.details["references"]} if "references" in exc.details else None
        return problem(409, "conflict", exc.message, instance, extra=extra)
    for kind, status, code in MAPPING:
        if isinstance(exc, kind):
            headers = None
            if status in (429, 503):
                headers = {"Retry-After": str(exc.details.get("retry_after", 60))}
            return problem(status, code, exc.message, instance, headers=headers)
    # BrokenConfig (a stored file that is not a configuration) and the rest.
    return problem(500, "internal", exc.message, instance)


def unexpected(exc: Exception, method: str, instance: str) -> Response:
    incident = secrets.token_hex(6)
    log.exception("internal error %s on %s %s", incident, method, instance, exc_info=exc)
    return problem(500, "internal", f"internal error (incident {incident}; see the daemon log)", instance)


def refuse(status: int, detail: str, path: str) -> Response:
    """The guard's 401/403 in the CFG envelope (COMPAT §0.2)."""
    if status == 401:
        return problem(401, "unauthorized", "missing or invalid bearer token", path)
    return problem(status, "forbidden", detail, path)
