"""MemoryService's core methods for the Cloudflare Agent Memory face
(COMPAT §1): recall in one scope, sessions with a target, waiting for and
deleting a session's extraction, and the catalog lookups behind the CF list
filters. The face (faces/compat/cloudflare/) parses and renders; the work is
in features/ and storage/.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from ..features.recall import EXACT, EXPLICIT, SearchRequest
from ..model import Selector

if TYPE_CHECKING:
    from ..features.recall import Recall
    from .runtime import Runtime


class CloudflareCore:
    """Mixed into MemoryService (which provides the parts named below)."""

    runtime: "Runtime"
    recall: "Recall"

    if TYPE_CHECKING:

        def check_selector(self, selector: Selector) -> Selector: ...

    def search_exact(
        self,
        selector: Selector,
        query_text: str,
        *,
        top_k: int,
        raw_candidates: int,
        extra_scopes: Sequence[Selector] = (),
        reference_now: dt.datetime | None = None,
        record: bool = True,
    ) -> dict[str, Any]:
        """CF recall (P5): the native pipeline over `selector`'s own scope
        only (no inheritance, no shadowing), plus `extra_scopes`
        (`compat.cf.recall_inherit`). An explicit search: any query is
        searched, memories already shown are not left out.
        `reference_now` (the client's referenceDate) is "now" for recency
        and staleness. Returns the native search response."""
        for scope in (selector, *extra_scopes):
            self.check_selector(scope)
        request = SearchRequest(
            query_text=query_text,
            selector=selector,
            top_k=top_k,
            raw_candidates=raw_candidates,
            mode=EXPLICIT,
            allow_trivial_query=True,
            include_already_surfaced=True,
            record=record,
            scope_mode=EXACT,
            extra_scopes=tuple(extra_scopes),
            reference_now=reference_now,
        )
        return self.recall.search(request, self.runtime.controller.clock())
