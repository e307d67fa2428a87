"""MemoryService's methods for the Cloudflare Agent Memory surface
(COMPAT.md §1; the logic is in features/cloudflare/). A namespace is a
synthetic workspace (or, bound by `namespace_bindings`, an existing one), a
profile an agent scope in it; every memory change is a candidate the
controller decides, origin `compat-cf`. Reads page through the catalog's
CF columns (`entries_by`), never a whole profile per request."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..controller.controller import Outcome
from ..controller.rules import Candidate
from ..errors import Conflict, NotFound, Rejected, TooLarge, ValidationError
from ..features.cloudflare import cursors, profiles
from ..features.cloudflare.classify import cf_type_of, native_type, summary_of
from ..features.cloudflare.memories import ListFilter, cf_entry, cf_memory, memory_not_found
from ..features.cloudflare.namespaces import Namespace, NamespaceFiles, check_account, check_name, namespace_not_found
from ..features.cloudflare.summary import SummaryInput, summarize
from ..features.extractor.patterns import extract
from ..model import CF_TYPES, Entry, Selector, memory_id
from .cloudflare_conversation import CloudflareConversation

if TYPE_CHECKING:
    from ..config import Config
    from ..controller.controller import Controller
    from ..storage.catalog import Catalog
    from ..storage.layout import Layout, WorkspaceRegistry
    from .runtime import Runtime

ORIGIN = "compat-cf"
# One namespace create or delete at a time (names are checked, then made).
_NAMESPACE_LOCK = threading.Lock()
# Remember is the client saying it: provenance.confidence (COMPAT §1.6).
REMEMBER_CONFIDENCE = "high"


@dataclass(frozen=True)
class Profile:
    namespace: Namespace
    name: str
    agent: str
    selector: Selector

    @property
    def written(self) -> bool:
        return profiles.exists(self.namespace.root, self.agent)


class Cloudflare(CloudflareConversation):
    """Mixed into MemoryService (service.py)."""

    config: "Config"
    registry: "WorkspaceRegistry"
    layout: "Layout"
    catalog: "Catalog"
    runtime: "Runtime"
    controller: "Controller"

    if TYPE_CHECKING:

        def submit(self, candidate: Candidate) -> Outcome: ...
        def remove_workspace(self, workspace_id: str) -> dict[str, Any]: ...
        def _now(self) -> str: ...

    @property
    def _cf_files(self) -> NamespaceFiles:
        return NamespaceFiles(self.config.home_path / self.config.compat.cf.root)

    # --- accounts and namespaces ---------------------------------------------

    def cf_check_account(self, account_id: str, path: str) -> None:
        """404 7003 for an account id that cannot be one (or is not the configured one)."""
        check_account(account_id, self.config.compat.cf.account_id, path)

    def _cf_bound_root(self, name: str) -> tuple[str, Path] | None:
        """(workspace id, root) of a name `namespace_bindings` binds to a
        registered workspace; None for an unbound name."""
        bound = self.config.compat.cf.namespace_bindings.get(name)
        if not bound:
            return None
        try:
            return bound, self.registry.get(bound).path
        except NotFound:
            raise Conflict(f"namespace_bindings binds {name} to {bound}, which is not a registered workspace") from None

    def _cf_read(self, account_id: str, name: str) -> Namespace | None:
        if not isinstance(name, str):
            return None
        bound = self._cf_bound_root(name)
        if bound is not None:
            return self._cf_files.read(account_id, name, root=bound[1], bound_to=bound[0])
        return self._cf_files.read(account_id, name)

    def cf_namespace(self, account_id: str, name: str) -> Namespace:
        """The namespace, registered as a workspace (again, if the registry
        lost it: namespace.toml is the truth)."""
        namespace = self._cf_read(account_id, name)
        if namespace is None:
            raise namespace_not_found()
        if namespace.workspace_id not in self.registry:
            self._cf_register(namespace)
        return namespace

    def _cf_register(self, namespace: Namespace) -> None:
        self.registry.register_synthetic(namespace.root, under=self._cf_files.base)
        self.runtime.take_in_workspace(namespace.workspace_id, namespace.root)

    def cf_create_namespace(self, account_id: str, name: Any) -> dict[str, Any]:
        check_name(name)
        with _NAMESPACE_LOCK:
            bound = self._cf_bound_root(name)
            if bound is not None:
                return self._cf_files.create_bound(account_id, name, bound[1], bound[0], self.runtime.clock()).to_dict()
            namespace = self._cf_files.create(account_id, name, self.runtime.clock())
            self._cf_register(namespace)
        return namespace.to_dict()

    def cf_get_namespace(self, account_id: str, name: str) -> dict[str, Any]:
        return self.cf_namespace(account_id, name).to_dict()

    def cf_list_namespaces(self, account_id: str, per_page: int, cursor: str | None) -> tuple[list[dict[str, Any]], str]:
        """Sorted by name; the cursor names the last one shown."""
        bound = [self._cf_read(account_id, n) for n in self.config.compat.cf.namespace_bindings]
        names = {ns.name: ns for ns in self._cf_files.list(account_id) if ns.name not in self.config.compat.cf.namespace_bindings}
        names.update({ns.name: ns for ns in bound if ns is not None})
        found = [names[n] for n in sorted(names)]
        if cursor:
            after = cursors.decode(cursor, ("n",))["n"]
            found = [ns for ns in found if ns.name > after]
        shown = found[:per_page]
        following = cursors.encode({"n": shown[-1].name}) if len(found) > per_page else ""
        return [ns.to_dict() for ns in shown], following

    def cf_delete_namespace(self, account_id: str, name: str) -> None:
        """Its sessions cancelled (queued extraction dropped) and removed,
        every memory of the namespace deleted through the controller, then
        the root moved aside and unregistered. A bound namespace's
        workspace stays: its profiles go, and its namespace.toml."""
        with _NAMESPACE_LOCK:
            namespace = self.cf_namespace(account_id, name)
            ws = namespace.workspace_id
            self._cf_drop_sessions(ws, untargeted=namespace.bound_to is None)
            if namespace.bound_to is None:
                keys = [k for k in self.catalog.scope_keys() if k == f"ws:{ws}" or k.endswith(f"@{ws}")]
                for key in keys:
                    self._cf_delete_all(Selector.from_key(key))
                shutil.rmtree(self.runtime.sessions.root / ws, ignore_errors=True)
                self.remove_workspace(ws)
            else:
                for agent in profiles.listed(namespace.root):
                    self._cf_delete_all(profiles.selector(ws, agent))
                    (profiles.profile_dir(namespace.root, agent) / "profile.toml").unlink(missing_ok=True)
            self._cf_files.retire(namespace)

    # --- profiles ----------------------------------------------------------

    def cf_profile(self, account_id: str, namespace: str, name: str) -> Profile:
        ns = self.cf_namespace(account_id, namespace)
        agent = profiles.agent_of(profiles.check_profile(name))
        return Profile(ns, name, agent, profiles.selector(ns.workspace_id, agent))

    def _cf_readable(self, profile: Profile) -> bool:
        """Whether a read goes on: False for a never-written profile (empty
        answer), a 404 with strict_profiles."""
        if profile.written:
            return True
        if self.config.compat.cf.strict_profiles:
            raise profiles.profile_not_found()
        return False

    def cf_delete_profile(self, account_id: str, namespace: str, name: str) -> None:
        profile = self.cf_profile(account_id, namespace, name)
        if not profile.written:
            raise profiles.profile_not_found()
        self._cf_drop_sessions(profile.namespace.workspace_id, profile.selector)
        self._cf_delete_all(profile.selector)
        (profiles.profile_dir(profile.namespace.root, profile.agent) / "profile.toml").unlink(missing_ok=True)

    def _cf_entries(self, selector: Selector, **filters: Any) -> list[Entry]:
        """Every entry of a scope that passes `filters`, a page at a time."""
        found: list[Entry] = []
        after = None
        while True:
            page, after = self.entries_by(selector, limit=1000, after=after, **filters)
            found += page
            if after is None:
                return found

    def _cf_delete_all(self, selector: Selector, **filters: Any) -> int:
        """One delete decision per memory of the scope (that passes `filters`)."""
        self.controller.wait_ready()
        entries = self._cf_entries(selector, **filters)
        for entry in entries:
            self.submit(Candidate(selector=selector, origin=ORIGIN, delete=True, filename=entry.filename))
        return len(entries)

    # --- memories ----------------------------------------------------------

    def cf_list_memories(
        self, account_id: str, namespace: str, name: str, *, per_page: int, cursor: str | None, session_id: str | None, cf_type: str | None
    ) -> tuple[list[dict[str, Any]], str]:
        """One page: one keyset query on the catalog's CF columns."""
        profile = self.cf_profile(account_id, namespace, name)
        filt = ListFilter.of(session_id, cf_type)
        after = filt.keyset(cursor) if cursor else None  # a bad cursor is a 400 even on an empty profile
        if not self._cf_readable(profile):
            return [], ""
        self.controller.wait_ready()
        entries, following = self.entries_by(
            profile.selector, source_session=filt.session_id, cf_type=filt.type, limit=per_page, after=after
        )
        return [cf_entry(e) for e in entries], filt.cursor(following)

    def _cf_file(self, profile: Profile, filename: str) -> dict[str, Any] | None:
        parsed = self.controller.read(profile.selector, filename)
        if parsed is None:
            return None
        path = self.layout.file_path(profile.selector, filename)
        try:
            mtime_ns = path.stat().st_mtime_ns
        except OSError:
            return None
        return cf_memory(memory_id(profile.selector, filename), parsed, mtime_ns)

    def _cf_filename(self, profile: Profile, wanted: str) -> str:
        self.controller.wait_ready()
        entry = self.catalog.entries_by_ids([wanted]).get(wanted) if wanted.startswith("mem_") else None
        if entry is None or entry.selector != profile.selector or entry.system_managed:
            raise memory_not_found()
        return entry.filename

    def cf_get_memory(self, account_id: str, namespace: str, name: str, wanted: str) -> dict[str, Any]:
        profile = self.cf_profile(account_id, namespace, name)
        self._cf_readable(profile)
        memory = self._cf_file(profile, self._cf_filename(profile, wanted))
        if memory is None:
            raise memory_not_found()
        return memory

    def cf_delete_memory(self, account_id: str, namespace: str, name: str, wanted: str) -> dict[str, Any]:
        """One delete decision; answers the memory as it was."""
        memory = self.cf_get_memory(account_id, namespace, name, wanted)
        profile = self.cf_profile(account_id, namespace, name)
        self.submit(Candidate(selector=profile.selector, origin=ORIGIN, delete=True, filename=self._cf_filename(profile, wanted)))
        return memory

    def cf_remember(self, account_id: str, namespace: str, name: str, content: str, session_id: str | None) -> dict[str, Any]:
        """Classify, then one candidate; a duplicate answers the memory there."""
        profile = self.cf_profile(account_id, namespace, name)
        if not content.strip():
            raise ValidationError("content must not be blank", field="content")
        cf_type = cf_type_of(content)
        slots = [found for found in extract(content) if found.entity]
        provenance: dict[str, Any] = {"confidence": REMEMBER_CONFIDENCE}
        if session_id:
            provenance["source_sessions"] = [session_id]
        candidate = Candidate(
            selector=profile.selector,
            origin=ORIGIN,
            type=native_type(cf_type),
            name=summary_of(content),
            body=content,
            metadata={"cf_type": cf_type},
            provenance=provenance,
            entity=slots[0].entity if slots else None,
            attribute=slots[0].attribute if slots else None,
            filename=slots[0].filename if slots else None,
        )
        outcome = self._cf_submit(candidate)
        profiles.ensure_toml(profile.namespace.root, profile.agent, profile.name, self._now())
        target = outcome.decision.target_filename
        memory = self._cf_file(profile, target) if target else None
        if memory is None:
            raise memory_not_found()
        return memory

    def _cf_submit(self, candidate: Candidate) -> Outcome:
        """Submit, with a rejection said the CF way: too large (413 10007)
        or refused by the scan (422 10006, naming the decision)."""
        try:
            return self.submit(candidate)
        except TooLarge as exc:
            raise TooLarge(f"Content too large: {exc.message}", cf_code=10007) from None
        except Rejected as exc:
            decision = exc.details.get("decision") or {}
            trace = decision.get("rule_trace") or [{}]
            if str(trace[-1].get("name", "")).startswith(("policy.max_content_chars", "file.")):
                raise TooLarge(f"Content too large: {exc.message}", cf_code=10007) from None
            raise Rejected(f"Content rejected: {exc.message}", cf_code=10006, decision_id=decision.get("id")) from None

    def cf_summary(self, account_id: str, namespace: str, name: str, session_id: str | None) -> str:
        """Each section from its own bounded query: a type's newest memories
        (no more than the budget can show), the last session's memories."""
        profile = self.cf_profile(account_id, namespace, name)
        if not self._cf_readable(profile):
            return ""
        self.controller.wait_ready()
        most = max(1, min(1000, self.config.compat.cf.summary_max_chars // 4))  # a line is at least "- x\n"
        given = SummaryInput({t: [cf_entry(e) for e in self.entries_by(profile.selector, cf_type=t, limit=most)[0]] for t in CF_TYPES})
        given.session = session_id or self._cf_latest_session(profile)
        if given.session:
            found = self.entries_by(profile.selector, source_session=given.session, limit=most)[0]
            given.session_memories = [cf_entry(e) for e in found]
            if not found:
                given.session_messages = self._cf_user_messages(profile, given.session)
        return summarize(given, now=self.runtime.clock(), max_chars=self.config.compat.cf.summary_max_chars)
