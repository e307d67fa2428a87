"""The Cloudflare V4 envelope (COMPAT §1.1–1.2), and the one place where
errors become V4 error answers on this surface."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Sequence

from ....errors import (
    AghmemError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    TooLarge,
    Unavailable,
    UnsupportedMediaType,
    ValidationError,
)
from ...json_answer import JSONResponse

log = logging.getLogger("aghmem.api")

# (status, code, message prefix) by error class; a `cf_code` in the
# details means the message is already the exact CF one.
_BY_CLASS: Sequence[tuple[type[AghmemError], int, int, str]] = (
    (ValidationError, 400, 10002, "Invalid request: "),
    (UnsupportedMediaType, 400, 10002, "Invalid request: "),
    (NotFound, 404, 7000, ""),
    (Conflict, 409, 10011, "Conflict: "),
    (TooLarge, 413, 10007, "Content too large: "),
    (Rejected, 422, 10006, "Content rejected: "),
    (RateLimited, 429, 10009, ""),
    (Forbidden, 403, 10000, ""),
    (Unavailable, 503, 10503, "Unavailable: "),
)


def ok(result: Any, *, messages: Sequence[dict[str, Any]] = (), result_info: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"result": result, "success": True, "errors": [], "messages": list(messages)}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body)


def failure(
    status: int,
    code: int,
    message: str,
    *,
    messages: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
    pointer: str | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if pointer:
        error["source"] = {"pointer": pointer}
    body = {"result": None, "success": False, "errors": [error], "messages": list(messages)}
    return JSONResponse(body, status_code=status, headers=headers)


def refuse(status: int, detail: str, path: str) -> JSONResponse:
    """The guard's 401/403 on this surface (code 10000)."""
    return failure(status, 10000, "Authentication error" if status == 401 else f"Authentication error: {detail}")


def render_error(exc: Exception, method: str, path: str) -> JSONResponse:
    if not isinstance(exc, AghmemError):
        incident = secrets.token_hex(6)
        log.exception("internal error %s on %s %s", incident, method, path)
        return failure(500, 10500, f"Internal error (incident {incident})")
    details = exc.details
    status, code, prefix = next(((s, c, p) for kind, s, c, p in _BY_CLASS if isinstance(exc, kind)), (500, 10500, ""))
    message = exc.message if "cf_code" in details else prefix + exc.message
    code = details.get("cf_code", code)
    headers, messages = None, []
    if isinstance(exc, RateLimited):
        message = "Too many requests"
    if isinstance(exc, (RateLimited, Unavailable)):
        headers = {"Retry-After": str(details.get("retry_after", 60))}
    if isinstance(exc, Rejected) and details.get("decision_id"):
        messages.append({"code": 10101, "message": f"decision {details['decision_id']}"})
    return failure(status, code, message, messages=messages, headers=headers, pointer=details.get("pointer"))
