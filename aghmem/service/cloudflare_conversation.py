"""MemoryService's CF ingest, recall and session delete (COMPAT §1.6), on
the core cf-core added (service/cloudflare_core.py): sessions with a
target, the wait for their extraction, exact-scope search, the
extractive answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..config import parse_duration
from ..controller.rules import Candidate
from ..errors import ParseError, ValidationError
from ..features.cloudflare import conversation as talk
from ..features.cloudflare import profiles
from ..features.cloudflare.answer import AnswerSource, compose_answer
from ..features.cloudflare.memories import cf_memory, latest_session, scope_memories
from ..model import GLOBAL, Scope, Selector, default_type, resolve_selector
from ..storage.files import parse_memory

if TYPE_CHECKING:
    import datetime as dt

    from ..config import Config
    from ..controller.controller import Outcome
    from ..features.sessions import AppendResult, Event, Sessions
    from ..storage.catalog import Catalog
    from .cloudflare import Profile


class CloudflareConversation:
    """Mixed into MemoryService through `Cloudflare`."""

    config: "Config"
    catalog: "Catalog"
    sessions: "Sessions"

    if TYPE_CHECKING:

        def cf_profile(self, account_id: str, namespace: str, name: str) -> Profile: ...
        def _cf_readable(self, profile: Profile) -> bool: ...
        def submit(self, candidate: Candidate) -> Outcome: ...
        def append_targeted(
            self, route_id: str, session_id: str, events: list[Event], *, target: Selector,
            external_session_id: str | None = None, unique_messages: bool = True,
        ) -> AppendResult: ...
        def wait_session_extracted(self, route_id: str, session_id: str, timeout: float) -> bool: ...
        def delete_session(self, route_id: str, session_id: str) -> dict[str, Any]: ...
        def search_exact(
            self, selector: Selector, query_text: str, *, top_k: int, raw_candidates: int,
            extra_scopes: Sequence[Selector] = (), reference_now: dt.datetime | None = None, record: bool = True,
        ) -> dict[str, Any]: ...

    def cf_ingest(self, account_id: str, namespace: str, name: str, raw_messages: Any, session_id: str | None) -> int:
        """Append the conversation to the profile's session (repeats
        dropped), then wait up to `ingest_wait` for its extraction. Returns
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

    def cf_delete_session(self, account_id: str, namespace: str, name: str, session_id: str) -> None:
        """The session's memories deleted (delete decisions), its ledger and
        queued extraction gone. Idempotent."""
        profile = self.cf_profile(account_id, namespace, name)
        if not 1 <= len(session_id) <= 64:
            raise ValidationError("session_id must be 1-64 characters", field="session_id")
        native = talk.native_session_id(profile.namespace.id, profile.agent, session_id)
        self.delete_session(profile.namespace.workspace_id, native)
        for memory in scope_memories(self.catalog, profile.selector):
            if memory["sessionId"] == session_id:
                self._cf_delete_by_id(profile.selector, memory["id"])

    def _cf_delete_by_id(self, selector: Selector, wanted: str) -> None:
        entry = self.catalog.entries_by_ids([wanted]).get(wanted)
        if entry is not None and entry.selector == selector:
            self.submit(Candidate(selector=selector, origin="compat-cf", delete=True, filename=entry.filename))

    def _cf_drop_sessions(self, profile: Profile) -> None:
        """Every ledger whose target is this profile (profile delete)."""
        directory = self.sessions.root / profile.namespace.workspace_id
        for session in sorted(directory.iterdir()) if directory.is_dir() else []:
            if session.name.startswith(profile.agent + ":") or _targets(session, profile.selector):
                self.delete_session(profile.namespace.workspace_id, session.name)

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
        recalled = self._cf_recalled(profile, found["results"])
        latest = latest_session(self.catalog, profile.selector) if any(m["type"] == "task" for m in recalled) else None
        ranked = talk.rank(recalled, latest, keep)
        sources = [AnswerSource(m["summary"], m["content"], m["score"]) for m in ranked]
        answer = compose_answer(query, sources, length)
        return {"answer": answer, "count": len(ranked), "candidates": [talk.candidate(m) for m in ranked]}

    def _cf_recalled(self, profile: Profile, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _targets(session: Path, selector: Selector) -> bool:
    try:
        target = json.loads((session / "meta.json").read_text(encoding="utf-8")).get("target")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(target, dict) and target.get("agent_name") == selector.agent_name and target.get("workspace_id") == selector.workspace_id
