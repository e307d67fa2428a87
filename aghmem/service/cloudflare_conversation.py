"""MemoryService's CF ingest, recall and session delete (COMPAT §1.6), on
the core of service/cloudflare_core.py: sessions with a target, the wait
for their extraction, exact-scope search, the extractive answer (or the
provider's, `compat.cf.answer`), the catalog's CF columns."""

from __future__ import annotations

import collections
import datetime as dt
import logging
import shutil
from typing import TYPE_CHECKING, Any, Sequence

from ..config import parse_duration
from ..controller.rules import Candidate
from ..errors import NotFound, ParseError, ValidationError
from ..features.cloudflare import conversation as talk
from ..features.cloudflare import profiles
from ..features.cloudflare.answer import AnswerSource, compose_answer
from ..features.cloudflare.llm_answer import MAX_TOKENS, answer_messages, read_answer
from ..features.cloudflare.memories import cf_memory, sessions_of
from ..features.ledger import read_ledger
from ..features.providers import ProviderError
from ..model import GLOBAL, Scope, Selector, default_type, resolve_selector
from ..storage.entry_query import ids_mentioning
from ..storage.files import parse_memory

if TYPE_CHECKING:
    from ..config import Config
    from ..controller.controller import Outcome
    from ..features.providers import Providers
    from ..features.sessions import AppendResult, Event, SessionMeta, Sessions
    from ..model import Entry
    from ..storage.catalog import Catalog
    from ..storage.entry_query import Keyset
    from .cloudflare import Profile
    from .runtime import Runtime

log = logging.getLogger("aghmem.cloudflare")
ORIGIN = "compat-cf"
SWEEPS = 3  # session delete: sweep again while candidates in flight still land


class CloudflareConversation:
    """Mixed into MemoryService through `Cloudflare`."""

    config: "Config"
    catalog: "Catalog"
    sessions: "Sessions"
    providers: "Providers"
    runtime: "Runtime"

    if TYPE_CHECKING:

        def cf_profile(self, account_id: str, namespace: str, name: str) -> Profile: ...
        def _cf_readable(self, profile: Profile) -> bool: ...
        def _cf_delete_all(self, selector: Selector, **filters: Any) -> int: ...
        def submit(self, candidate: Candidate) -> Outcome: ...
        def append_targeted(
            self, route_id: str, session_id: str, events: list[Event], *, target: Selector,
            external_session_id: str | None = None, unique_messages: bool = True,
        ) -> AppendResult: ...
        def wait_session_extracted(self, route_id: str, session_id: str, timeout: float) -> bool: ...
        def delete_session(self, route_id: str, session_id: str) -> dict[str, Any]: ...
        def sessions_targeting(self, route_id: str, target: Selector | None = None) -> list[SessionMeta]: ...
        def entries_by(
            self, selector: Selector, *, source_session: str | None = None, cf_type: str | None = None,
            limit: int = 20, after: Keyset | None = None,
        ) -> tuple[list[Entry], Keyset | None]: ...
        def search_exact(
            self, selector: Selector, query_text: str, *, top_k: int, raw_candidates: int,
            extra_scopes: Sequence[Selector] = (), reference_now: dt.datetime | None = None, record: bool = True,
        ) -> dict[str, Any]: ...

    def cf_ingest(self, account_id: str, namespace: str, name: str, raw_messages: Any, session_id: str | None) -> int:
        """Append the conversation to the profile's session (repeats
        dropped; a bound config's privacy policy applied by the session
        service), then wait up to `ingest_wait` for its extraction. Returns
        how many messages were new."""
        profile = self.cf_profile(account_id, namespace, name)
        messages = talk.parse_messages(raw_messages)
        external = session_id or talk.derived_session_id(messages)
        native = talk.native_session_id(profile.namespace.id, profile.agent, external)
        route = profile.namespace.workspace_id
        result = self.append_targeted(
            route, native, talk.message_events(native, messages), target=profile.selector, external_session_id=external
        )
        if result.appended:  # the profile exists from its first write
            profiles.ensure_toml(profile.namespace.root, profile.agent, profile.name, result.meta.created_at)
            self.wait_session_extracted(route, native, parse_duration(self.config.compat.cf.ingest_wait))
        return len(result.appended)

    # --- deletes -------------------------------------------------------------

    def cf_delete_session(self, account_id: str, namespace: str, name: str, session_id: str) -> None:
        """The session's queued extraction and ledger gone, then its
        memories: those it is the first source session of are deleted (swept
        until none is left: a candidate in flight when the delete came may
        land), those that list it later are updated without it. Idempotent."""
        profile = self.cf_profile(account_id, namespace, name)
        if not 1 <= len(session_id) <= 64:
            raise ValidationError("session_id must be 1-64 characters", field="session_id")
        native = talk.native_session_id(profile.namespace.id, profile.agent, session_id)
        self.delete_session(profile.namespace.workspace_id, native)
        for _ in range(SWEEPS):
            if not self._cf_delete_all(profile.selector, source_session=session_id):
                break
        self._cf_drop_from_provenance(profile.selector, session_id)

    def _cf_drop_from_provenance(self, selector: Selector, session_id: str) -> None:
        """An update, through the controller, setting the source_sessions of
        each memory that lists `session_id` (not first) to the list without it."""
        ids = ids_mentioning(self.catalog, selector.key, session_id)
        raws = self.catalog.raw_by_ids(ids)
        entries = self.catalog.entries_by_ids(ids)
        for memory_id in ids:
            entry = entries.get(memory_id)
            try:
                parsed = parse_memory(raws.get(memory_id, "").encode("utf-8"), entry.filename, default_type(selector)) if entry else None
            except ParseError:
                continue
            sessions = sessions_of(parsed) if parsed else []
            if entry is None or session_id not in sessions[1:]:
                continue
            kept = [s for s in sessions if s != session_id]
            try:
                self.submit(Candidate(
                    selector=selector, origin=ORIGIN, filename=entry.filename, patch=True,
                    provenance={"source_sessions": kept}, replace_source_sessions=True,
                ))
            except NotFound:
                continue  # deleted meanwhile

    def _cf_drop_sessions(self, route_id: str, target: Selector | None = None, *, untargeted: bool = False) -> None:
        """Through `delete_session` (queued extraction cancelled, ledger
        removed): the sessions targeting `target` (any target when None),
        and with `untargeted` every other session of the workspace too."""
        for meta in self.sessions_targeting(route_id, target):
            self.delete_session(route_id, meta.session_id)
        directory = self.sessions.root / route_id
        for session in sorted(directory.iterdir()) if untargeted and directory.is_dir() else []:
            try:
                self.delete_session(route_id, session.name)
            except ValidationError:  # not a session id: not ours to cancel
                shutil.rmtree(session, ignore_errors=True)

    # --- the last session (summary, recall's task rule) --------------------------

    def _cf_latest_session(self, profile: Profile) -> str | None:
        """The profile's most recent session: of its latest ledger event, or
        of its newest memory that names one, whichever is later."""
        ledgers = self.sessions_targeting(profile.namespace.workspace_id, profile.selector)
        ledger = (ledgers[0].updated_at, ledgers[0].external_session_id or ledgers[0].session_id) if ledgers else None
        memory = None
        after = None
        while memory is None:
            page, after = self.entries_by(profile.selector, limit=32, after=after)
            named = [e for e in page if e.source_session]
            # Newest first by provenance stamp (seconds); a tie goes to the file written last.
            newest = max(named, key=lambda e: (_instant(e.created_at or e.mod_time), e.mtime_ns), default=None)
            memory = (newest.created_at or newest.mod_time, newest.source_session) if newest else None
            if after is None:
                break
        found = [f for f in (ledger, memory) if f is not None]
        return max(found, key=lambda f: _instant(f[0]))[1] if found else None

    def _cf_user_messages(self, profile: Profile, session_id: str, keep: int = 3) -> list[str]:
        """The last `keep` user messages of a session's ledger (Last Session's fallback)."""
        native = talk.native_session_id(profile.namespace.id, profile.agent, session_id)
        path = self.sessions.directory(profile.namespace.workspace_id, native) / "ledger.jsonl"
        last: collections.deque[str] = collections.deque(maxlen=keep)
        for event in read_ledger(path):
            content = event.payload.get("content")
            if event.event_type == "message" and event.payload.get("role") == "user" and isinstance(content, str) and content.strip():
                last.append(content)
        return list(last)

    # --- recall ------------------------------------------------------------------

    def cf_recall(
        self, account_id: str, namespace: str, name: str, query: str, *, thinking: str, length: str, reference: dt.datetime | None
    ) -> dict[str, Any]:
        profile = self.cf_profile(account_id, namespace, name)
        talk.check_query(query)
        if not self._cf_readable(profile):
            return {"answer": "", "count": 0, "candidates": []}
        raw_candidates, keep = talk.THINKING[thinking]
        extra = [GLOBAL if s == "global" else Selector(Scope.WORKSPACE, workspace_id=profile.namespace.workspace_id)
                 for s in self.config.compat.cf.recall_inherit]
        found = self.search_exact(
            profile.selector, query, top_k=min(raw_candidates, keep * 4), raw_candidates=raw_candidates,
            extra_scopes=extra, reference_now=reference,
        )
        recalled = self._cf_recalled(found["results"])
        latest = self._cf_latest_session(profile) if any(m["type"] == "task" for m in recalled) else None
        ranked = talk.rank(recalled, latest, keep)
        sources = [AnswerSource(m["summary"], m["content"], m["score"]) for m in ranked]
        answer = self._cf_answer(query, sources, length, reference, profile.selector)
        return {"answer": answer, "count": len(ranked), "candidates": [talk.candidate(m) for m in ranked]}

    def _cf_answer(
        self, query: str, sources: list[AnswerSource], length: str, reference: dt.datetime | None, selector: Selector
    ) -> str:
        """`compat.cf.answer`: llm (the provider writes it from `sources`),
        auto (llm when the provider is usable), extractive; any provider
        failure (or a bound configuration's open breaker) falls back to the
        extractive answer."""
        mode = self.config.compat.cf.answer
        guard = self.runtime.configs.breakers.for_scope(selector)
        if sources and (mode == "llm" or (mode == "auto" and self.providers.llm_usable(guard))):
            today = (reference or self.runtime.clock()).date()
            try:
                completion = self.providers.complete(
                    answer_messages(query, sources, today=today, length=length), max_tokens=MAX_TOKENS[length], guard=guard
                )
                return read_answer(completion.text)
            except ProviderError as exc:
                log.info("cf recall: provider failed (%s); extractive answer", exc.code)
        return compose_answer(query, sources, length)

    def _cf_recalled(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The search's results as CF memories with their scores."""
        shown = [r for r in results if not r.get("shadowed_by") and not r["memory"].get("system_managed")]
        raws = self.catalog.raw_by_ids([r["memory"]["id"] for r in shown])
        found = []
        for result in shown:
            summary = result["memory"]
            selector = resolve_selector(summary)
            try:
                parsed = parse_memory(raws.get(summary["id"], "").encode("utf-8"), summary["filename"], default_type(selector))
            except ParseError:
                continue
            memory = cf_memory(summary["id"], parsed, 0)
            found.append({**memory, "score": float(result["score"])})
        return found


def _instant(stamp: str) -> dt.datetime:
    """A stamp as an aware moment; one that is not ISO (hand-written) is the oldest."""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
