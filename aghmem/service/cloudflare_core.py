"""MemoryService's core methods for the Cloudflare Agent Memory face
(COMPAT §1): recall in one scope, sessions with a target, waiting for and
deleting a session's extraction, and the catalog lookups behind the CF list
filters. The face (faces/compat/cloudflare/) parses and renders; the work is
in features/ and storage/.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import ValidationError
from ..features.cloudflare.classify import natives_read_as
from ..features.recall import EXACT, EXPLICIT, SearchRequest
from ..features.sessions import AppendResult, Event, SessionMeta, check_session_id
from ..model import CF_TYPES, Entry, Selector
from ..storage.entry_query import EntryQuery, Keyset, entries_by

if TYPE_CHECKING:
    from ..features.extractor.worker import Extractor
    from ..features.recall import Recall
    from ..features.sessions import Sessions
    from ..storage.catalog import Catalog
    from .runtime import Runtime


class CloudflareCore:
    """Mixed into MemoryService (which provides the parts named below)."""

    runtime: "Runtime"
    recall: "Recall"
    sessions: "Sessions"
    extractor: "Extractor"
    catalog: "Catalog"

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

    # --- sessions with a target (ingest, session delete) ------------------------

    def append_targeted(
        self,
        route_id: str,
        session_id: str,
        events: list[Event],
        *,
        target: Selector,
        external_session_id: str | None = None,
        unique_messages: bool = True,
    ) -> AppendResult:
        """CF ingest (P3): append messages to a session whose extracted
        memories go to `target` (the profile), each with
        `provenance.source_sessions: [external_session_id]`. With
        `unique_messages` (the default), messages whose `payload.message_id`
        the ledger already holds, or that repeat in the batch, are dropped
        under the session's lock, and the rest are numbered after the
        ledger's last sequence (the events' own sequences are ignored).
        May raise RateLimited (extractor backpressure: nothing appended) or
        Conflict (the session was bound to another target)."""
        self.check_selector(target)
        return self.sessions.append(
            route_id, session_id, events,
            target=target, external_session_id=external_session_id, unique_messages=unique_messages,
        )

    def ledger_message_ids(self, route_id: str, session_id: str) -> set[str]:
        """The message ids a session's ledger holds (one read of it; empty if
        there is no such session): what CF ingest may check before
        appending (`append_targeted` also drops repeats itself)."""
        return self.sessions.message_ids(route_id, check_session_id(session_id))

    def wait_session_extracted(self, route_id: str, session_id: str, timeout: float) -> bool:
        """CF ingest's wait (`compat.cf.ingest_wait`): until the extractor
        has nothing queued, in flight or in its inbox for this session, at
        most `timeout` s. Whether it finished."""
        workspace_id = self.sessions.workspace(route_id)
        return self.extractor.wait_session(workspace_id, check_session_id(session_id), timeout)

    def sessions_targeting(self, route_id: str, target: Selector | None = None) -> list[SessionMeta]:
        """A workspace's sessions bound to `target` (or to any target), the
        most recently updated first: CF profile and namespace delete (their
        ledgers go), the summary's "last session" and recall's task rule
        (`external_session_id` of the first)."""
        return self.sessions.targeting(route_id, target)

    def delete_session(self, route_id: str, session_id: str) -> dict[str, Any]:
        """CF session and profile delete (P1, P2): cancel the session's
        queued extractor jobs and inbox files (the job in hand stops at its
        next candidate), then remove its ledger. Idempotent. The memories it
        produced are the caller's to delete (by `entries_by(source_session=…)`)."""
        check_session_id(session_id)
        dropped = [0]

        def cancel(workspace_id: str | None, sid: str) -> None:
            dropped[0] = self.extractor.cancel_session(workspace_id, sid)

        existed = self.sessions.delete(route_id, session_id, before=cancel)
        return {"session_id": session_id, "deleted": existed, "cancelled_jobs": dropped[0]}

    # --- the catalog's CF columns (list filters, session delete) -----------------

    def entries_by(
        self,
        selector: Selector,
        *,
        source_session: str | None = None,
        cf_type: str | None = None,
        limit: int = 20,
        after: Keyset | None = None,
    ) -> tuple[list[Entry], Keyset | None]:
        """CF memory list (P6) and session delete (P2): a scope's entries,
        newest `createdAt` first (provenance.created_at, else the file's
        mtime; tie: id), optionally only those whose
        provenance.source_sessions[0] is `source_session` and whose CF type
        (metadata.cf_type, else read back from the native type) is
        `cf_type`. System files are left out. Returns the page and, when
        more follow, the keyset (created_sort, id) to pass as `after`.
        Entries carry `source_session` and `cf_type` (None: read back)."""
        self.check_selector(selector)
        if cf_type is not None and cf_type not in CF_TYPES:
            raise ValidationError(f"type must be one of: {', '.join(CF_TYPES)}", field="type")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be a whole number from 1 to 1000", field="limit")
        query = EntryQuery(
            selector.key,
            source_session=source_session,
            cf_type=cf_type,
            fallback_types=natives_read_as(cf_type) if cf_type else (),
            limit=limit,
            after=after,
        )
        return entries_by(self.catalog, query)
