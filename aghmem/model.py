"""Plain data: scopes, selectors, memory entries, decisions.

Nothing here touches the disk or the network.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ValidationError


class Scope(str, enum.Enum):
    GLOBAL = "global"
    WORKSPACE = "workspace"
    AGENT = "agent"


class Tier(str, enum.Enum):
    WORKSPACE = "workspace"
    GLOBAL = "global"


class MemoryType(str, enum.Enum):
    USER = "user"
    FEEDBACK = "feedback"
    PROJECT = "project"
    REFERENCE = "reference"


GLOBAL_TYPES = frozenset({MemoryType.USER, MemoryType.FEEDBACK})
# Cloudflare Agent Memory's types (kept in a memory's `metadata.cf_type`).
CF_TYPES = ("instruction", "fact", "event", "task")


class Op(str, enum.Enum):
    NOOP = "noop"
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    REJECT = "reject"


# How the operation history names the ops that change a file.
HISTORY_OPERATIONS = {Op.ADD: "memory.write", Op.UPDATE: "memory.update", Op.DELETE: "memory.delete"}


# Agent names and workspace ids become path segments, so they are held to a
# strict alphabet: no separators, no dots in front, no `..`.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_WORKSPACE_ID_RE = re.compile(r"^ws_[a-z0-9]{4,64}$")

SELECTOR_FIELDS = ("scope", "workspace_id", "agent_name", "agent_tier")


@dataclass(frozen=True)
class Selector:
    """One memory scope: where a memory lives and who may see it."""

    scope: Scope
    workspace_id: str | None = None
    agent_name: str | None = None
    agent_tier: Tier | None = None

    @property
    def key(self) -> str:
        """A compact, unique string for this scope (used in SQLite)."""
        if self.scope is Scope.GLOBAL:
            return "global"
        if self.scope is Scope.WORKSPACE:
            return f"ws:{self.workspace_id}"
        if self.agent_tier is Tier.GLOBAL:
            return f"agent:{self.agent_name}"
        return f"agent:{self.agent_name}@{self.workspace_id}"

    @property
    def depth(self) -> int:
        """Precedence: agent/workspace 3 > agent/global 2 > workspace 1 > global 0."""
        if self.scope is Scope.GLOBAL:
            return 0
        if self.scope is Scope.WORKSPACE:
            return 1
        return 2 if self.agent_tier is Tier.GLOBAL else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope.value,
            "workspace_id": self.workspace_id,
            "agent_name": self.agent_name,
            "agent_tier": self.agent_tier.value if self.agent_tier else None,
        }

    @classmethod
    def from_key(cls, key: str) -> "Selector":
        # Every catalog row names its scope by key; there are few of them.
        return _selector_of_key(key)

    @classmethod
    def _parse_key(cls, key: str) -> "Selector":
        if key == "global":
            return GLOBAL
        if key.startswith("ws:"):
            return cls(Scope.WORKSPACE, workspace_id=key[3:])
        name, _, ws = key[len("agent:"):].partition("@")
        if ws:
            return cls(Scope.AGENT, workspace_id=ws, agent_name=name, agent_tier=Tier.WORKSPACE)
        return cls(Scope.AGENT, agent_name=name, agent_tier=Tier.GLOBAL)

    def visible_scopes(self) -> list["Selector"]:
        """The scopes a reader with this selector sees, shallowest first."""
        scopes = [GLOBAL]
        if self.workspace_id:
            scopes.append(Selector(Scope.WORKSPACE, workspace_id=self.workspace_id))
        if self.agent_name:
            scopes.append(Selector(Scope.AGENT, agent_name=self.agent_name, agent_tier=Tier.GLOBAL))
            if self.workspace_id:
                scopes.append(
                    Selector(
                        Scope.AGENT,
                        workspace_id=self.workspace_id,
                        agent_name=self.agent_name,
                        agent_tier=Tier.WORKSPACE,
                    )
                )
        return scopes


GLOBAL = Selector(Scope.GLOBAL)


@functools.lru_cache(maxsize=1024)
def _selector_of_key(key: str) -> Selector:
    return Selector._parse_key(key)


def has_selector_fields(fields: Mapping[str, Any]) -> bool:
    return any(fields.get(name) not in (None, "") for name in SELECTOR_FIELDS)


def _enum(kind: type[enum.Enum], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)  # type: ignore[attr-defined]
        raise ValidationError(f"{name} must be one of: {allowed}", field=name, value=value) from None


def check_agent_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ValidationError(
            "agent_name must be 1-64 characters of letters, digits, '_' or '-'",
            field="agent_name",
        )
    return value


def check_workspace_id(value: Any) -> str:
    if not isinstance(value, str) or not _WORKSPACE_ID_RE.fullmatch(value):
        raise ValidationError("workspace_id must look like ws_<lowercase letters and digits>", field="workspace_id")
    return value


def resolve_selector(fields: Mapping[str, Any], memory_type: MemoryType | None = None) -> Selector:
    """Turn selector fields (query string or JSON body) into a Selector.

    Inference (DESIGN §4): without `scope`, `agent` if `agent_name` is set,
    else `workspace` if `workspace_id` is set, else `global`. `memory_type`
    is given on create only: with no selector field at all, the type decides.
    """
    raw_scope = fields.get("scope") or None
    workspace_id = fields.get("workspace_id") or None
    agent_name = fields.get("agent_name") or None
    raw_tier = fields.get("agent_tier") or None

    if workspace_id is not None:
        check_workspace_id(workspace_id)
    if agent_name is not None:
        check_agent_name(agent_name)

    if raw_scope is None:
        if agent_name:
            raw_scope = "agent"
        elif workspace_id:
            raw_scope = "workspace"
        elif memory_type is not None and memory_type not in GLOBAL_TYPES:
            raise ValidationError(
                f"a {memory_type.value} memory needs a workspace_id or an explicit scope",
                field="workspace_id",
            )
        else:
            raw_scope = "global"
    scope = _enum(Scope, raw_scope, "scope")

    if scope is Scope.GLOBAL:
        if agent_name or raw_tier:
            raise ValidationError("scope global takes no agent_name or agent_tier", field="scope")
        # A workspace_id beside scope=global is tolerated: it names where the
        # caller works, not where the memory lives.
        return GLOBAL
    if scope is Scope.WORKSPACE:
        if not workspace_id:
            raise ValidationError("scope workspace needs a workspace_id", field="workspace_id")
        if agent_name or raw_tier:
            raise ValidationError("scope workspace takes no agent_name or agent_tier", field="scope")
        return Selector(Scope.WORKSPACE, workspace_id=workspace_id)

    if not agent_name:
        raise ValidationError("scope agent needs an agent_name", field="agent_name")
    tier = _enum(Tier, raw_tier, "agent_tier") if raw_tier else (Tier.WORKSPACE if workspace_id else Tier.GLOBAL)
    if tier is Tier.WORKSPACE and not workspace_id:
        raise ValidationError("agent_tier workspace needs a workspace_id", field="workspace_id")
    return Selector(
        Scope.AGENT,
        workspace_id=workspace_id if tier is Tier.WORKSPACE else None,
        agent_name=agent_name,
        agent_tier=tier,
    )


def iso_utc(moment: dt.datetime, *, ms: bool = False) -> str:
    """A moment as UTC ISO 8601 (`2026-04-21T09:30:00Z`, or `…:00.123Z`), the
    year always four digits: strftime writes the year 422 as `422`."""
    m = moment.astimezone(dt.timezone.utc)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    return f"{text}.{m.microsecond // 1000:03d}Z" if ms else f"{text}Z"


# Entry.mod_time by mtime: a search dates each result twice (~3 µs each). A
# dict of ints and strings, which the cyclic collector does not track.
_MOD_TIMES: dict[int, str] = {}


def default_type(selector: Selector) -> MemoryType:
    """The type a hand-written file without one gets in this scope."""
    if selector.scope is Scope.WORKSPACE or selector.agent_tier is Tier.WORKSPACE:
        return MemoryType.PROJECT
    return MemoryType.USER


def parse_type(value: Any) -> MemoryType:
    return _enum(MemoryType, value, "type")


def memory_id(selector: Selector, filename: str) -> str:
    """A stable id for one memory file in one scope."""
    digest = hashlib.sha256(f"{selector.key}/{filename}".encode()).hexdigest()
    return "mem_" + digest[:20]


@dataclass
class Entry:
    """What the catalog knows about one memory file (derived from the file)."""

    selector: Selector
    filename: str
    type: MemoryType
    name: str
    description: str
    content_hash: str
    body_hash: str
    size: int
    mtime_ns: int
    created_at: str | None = None
    updated_at: str | None = None
    entity: str | None = None
    attribute: str | None = None
    superseded_by: str | None = None
    recall_count: int = 0
    last_recalled_at: str | None = None
    # The file's text as last seen: the prior content of a hand edit, and
    # what the index and recall read, so neither re-reads files.
    raw: str = ""
    # The id as stored, when read from the catalog (saves hashing again);
    # else filled on first use.
    known_id: str | None = field(default=None, compare=False)
    # For the CF face's filters (COMPAT N6): provenance.source_sessions[0],
    # and metadata.cf_type when it is one of CF_TYPES.
    source_session: str | None = None
    cf_type: str | None = None

    @property
    def id(self) -> str:
        # Not a cached_property: Python 3.11's takes a lock on every read
        # (7% of a search's GIL time went to it).
        if self.known_id is None:
            self.known_id = memory_id(self.selector, self.filename)
        return self.known_id

    @property
    def system_managed(self) -> bool:
        return self.filename.startswith("_system")

    @property
    def mod_time(self) -> str:
        if (text := _MOD_TIMES.get(self.mtime_ns)) is None:
            if len(_MOD_TIMES) >= 65_536:
                _MOD_TIMES.clear()
            text = _MOD_TIMES[self.mtime_ns] = iso_utc(dt.datetime.fromtimestamp(self.mtime_ns / 1e9, dt.timezone.utc))
        return text

    def age_days(self, now: dt.datetime) -> float:
        return max(0.0, (now.timestamp() - self.mtime_ns / 1e9) / 86400)

    def staleness_banner(self, now: dt.datetime, after_days: int) -> str | None:
        age = self.age_days(now)
        if after_days > 0 and age > after_days:
            return f"Written {int(age)} days ago; check that it still holds before relying on it."
        return None

    def summary(self, staleness_banner: str | None = None) -> dict[str, Any]:
        """The memory summary of seed 004. A file without provenance dates
        (written by hand) is dated by its modification time."""
        mod_time = self.mod_time
        return {
            "id": self.id,
            **self.selector.to_dict(),
            "filename": self.filename,
            "name": self.name,
            "description": self.description,
            "type": self.type.value,
            "content_hash": self.content_hash,
            "created_at": self.created_at or mod_time,
            "updated_at": self.updated_at or mod_time,
            "mod_time": mod_time,
            "entity": self.entity,
            "attribute": self.attribute,
            "superseded_by": self.superseded_by,
            "system_managed": self.system_managed,
            "injection": not self.system_managed and not self.superseded_by,
            "recall_count": self.recall_count,
            "last_recalled_at": self.last_recalled_at,
            "staleness_banner": staleness_banner,
        }


@dataclass
class RuleResult:
    """One line of a decision's `rule_trace`."""

    name: str
    passed: bool
    reason: str = ""
    target: str | None = None
    details: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "reason": self.reason,
            "target": self.target,
            "details": self.details,
        }


@dataclass
class Decision:
    """The controller's verdict on one candidate, as recorded in SQLite."""

    id: str
    idempotency_key: str
    candidate_hash: str
    selector: Selector
    op: Op
    origin: str
    reason: str
    source: str = "rule"
    confidence: float = 1.0
    targets: list[str] = field(default_factory=list)
    target_filename: str | None = None
    frontmatter: dict[str, Any] | None = None
    post_content: str | None = None
    post_content_hash: str | None = None
    prior_content: str | None = None
    prior_content_hash: str | None = None
    rule_trace: list[RuleResult] = field(default_factory=list)
    llm_trace: dict[str, Any] | None = None
    prompt_version: str | None = None
    decided_at: str = ""
    applied_at: str | None = None
    reverts: str | None = None
    # pending | applied | recorded (noop, reject) | abandoned (see catalog)
    status: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "candidate_hash": self.candidate_hash,
            **self.selector.to_dict(),
            "op": self.op.value,
            "origin": self.origin,
            "reason": self.reason,
            "source": self.source,
            "confidence": self.confidence,
            "targets": list(self.targets),
            "target_filename": self.target_filename,
            "frontmatter": self.frontmatter_view(),
            "post_content": self.post_content,
            "post_content_hash": self.post_content_hash,
            "prior_content": self.prior_content,
            "rule_trace": [rule.to_dict() for rule in self.rule_trace],
            # latency_ms in whole milliseconds (an older daemon kept decimals)
            "llm_trace": {**self.llm_trace, "latency_ms": round(self.llm_trace.get("latency_ms") or 0)} if self.llm_trace else None,
            "prompt_version": self.prompt_version,
            "decided_at": self.decided_at,
            "applied_at": self.applied_at,
            "reverts": self.reverts,
            "status": self.status,
        }

    def frontmatter_view(self) -> dict[str, Any]:
        """`frontmatter` as seed 004 shows it: the memory the decision is
        about, and `mod_time`, when the decision took effect (else when it was
        made). A row recorded without one (an older daemon's) gets the
        bare scope and filename."""
        at = self.applied_at or self.decided_at
        view = dict(self.frontmatter) if self.frontmatter else {
            **self.selector.to_dict(),
            "filename": self.target_filename or "",
            "name": "",
            "description": "",
            "type": default_type(self.selector).value,
            "provenance": {
                "source_actor": self.origin, "source_session_ids": [], "confidence": None, "superseded_by": None,
                "created_at": at, "updated_at": at,
            },
        }
        view.setdefault("mod_time", at)
        return view

    def operation(self) -> dict[str, Any]:
        """This applied decision as an item of the operation history."""
        return {
            "id": self.id,
            **self.selector.to_dict(),
            "filename": self.target_filename,
            "operation": HISTORY_OPERATIONS[self.op],
            "summary": self.reason,
            "origin": self.origin,
            "timestamp": self.applied_at,
        }
