"""What a route promises, declared on its endpoint; /openapi.json is built
from these declarations.

    @contract(answer=obj({"memories": array(ref("MemorySummary"))}), query=SELECTOR_QUERY, errors=(404,))
    async def list_memories(request: Request) -> JSONResponse: ...

`body` is the request body's declaration (a `payloads.Body`: the same object
the route's parser checks with), `query`/`path` its parameters (`Field`s),
`answer` the success body's JSON Schema (see answers.py). The statuses a
route can answer are its success status and `errors`, plus those every route
of that kind can answer: 401 and 403 (the guard), 400 for a route with
parameters or a body, 413 and 415 for a route with a body. A route under
/api/ without a contract is still listed, as `x-undeclared` ("answers JSON",
a default response); tests/test_openapi_document.py wants none of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from .payloads import Body, Field
from .payloads.spec import OneOfBody

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

STATUS_TEXT = {
    200: "OK", 201: "Created", 400: "Bad request: a parameter or the body is not valid",
    401: "A token is configured and the request has none, or a wrong one",
    403: "Host or Origin not allowed, or a path outside the memory roots",
    404: "Not found", 409: "Conflict with the current state (If-Match, a quarantined file, a busy lock…)",
    413: "Request body, or the memory it writes, too large", 415: "The body is not sent as application/json",
    422: "The controller rejected the write (the decision is in details)", 429: "Too many writes or events; see Retry-After",
    501: "Not supported by this daemon",
    503: "Still taking the memory files in after a start; see Retry-After",
}


@dataclass(frozen=True)
class Contract:
    answer: Mapping[str, Any]
    body: Body | OneOfBody | None = None
    query: Mapping[str, Field] = field(default_factory=dict)
    path: Mapping[str, Field] = field(default_factory=dict)
    headers: Mapping[str, Field] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same answer (201 created / 200 known)
    media_type: str = "application/json"
    tags: tuple[str, ...] = ()
    # The error body's schema, when not (only) the native envelope: a path
    # two surfaces share (/api/memory: native or key-value) answers either.
    error_schema: Mapping[str, Any] | None = None

    def statuses(self) -> list[int]:
        implied = {401, 403}
        if self.body is not None or self.query or self.path or self.headers:
            implied.add(400)
        if self.body is not None:
            implied.update({413, 415})
        return sorted({self.status, *self.also, *implied, *self.errors})


def contract(**promises: Any) -> Callable[[Endpoint], Endpoint]:
    """Declare what a route takes and answers (see Contract)."""
    declared = Contract(**promises)

    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.contract = declared  # type: ignore[attr-defined]
        return endpoint

    return mark


def contract_of(endpoint: Any) -> Contract | None:
    return getattr(endpoint, "contract", None)
