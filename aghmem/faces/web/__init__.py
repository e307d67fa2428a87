"""The web inspector: server-rendered pages to see, search, curate and
revert memory in a browser (INTEGRATIONS.md §4). Pages at fixed addresses,
each linking its JSON twin in the API; state changes only through forms
that carry a same-origin Origin and a signed token (csrf.py)."""

from __future__ import annotations

from starlette.routing import Route

from . import curation, pages
from .rendering import static

routes = [
    Route(path, endpoint, methods=methods, include_in_schema=False)
    for path, endpoint, methods in [
        ("/", pages.scopes, ["GET"]),
        ("/memory/{filename:path}", pages.memory, ["GET"]),
        ("/search", pages.search, ["GET"]),
        ("/health", pages.health, ["GET"]),
        ("/decisions", curation.decisions, ["GET"]),
        ("/decisions/{decision_id}", curation.decision, ["GET"]),
        ("/decisions/{decision_id}/revert", curation.revert, ["POST"]),
        ("/decisions/{decision_id}/revert", curation.revert_get, ["GET"]),
        ("/dreams", curation.dreams, ["GET"]),
        ("/dreams/trigger", curation.trigger, ["POST"]),
        ("/static/{name}", static, ["GET"]),
    ]
]
