"""Key-value agent memory (seed 003, COMPAT.md §3): each key of an agent is
a KV card (kv_cards.py) in the agent's global scope, written through the
controller (origin `compat-kv`); values too large for a card go to blobs
(kv_blobs.py). The requests' rules and messages are the seed's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..compat_config import KvConfig
from ..config import Config
from ..controller.controller import Controller
from ..controller.decisions import stamp
from ..controller.rules import Candidate
from ..errors import NotFound, RateLimited, Rejected, ValidationError
from ..model import MemoryType, Op, Scope, Selector, Tier
from ..storage.catalog import Catalog
from ..storage.files import format_time
from ..storage.slot_query import slot_texts
from .kv_blobs import BlobStore
from .kv_cards import (
    ENTITY,
    FILENAME_PREFIX,
    CardValue,
    agent_dir_name,
    blob_in,
    card_fields,
    card_filename,
    compact,
    read_value,
    split_card,
)

ORIGIN = "compat-kv"
ALL = "all"  # the seed's keyword: every agent
AGENT_SCOPES = "agent:"  # the key prefix of agent scopes (an agent's global tier has no "@")
MAX_AGENT_ID = 256
KEY_MESSAGE = "key must be a non-empty string (≤200 chars, one line)"
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class KvWrite:
    """A checked POST: the agent and its keys' values, in request order."""

    agent_id: str
    values: dict[str, Any]
    single: bool


def _too_large(config: KvConfig, key: str | None = None) -> ValidationError:
    limit = f"max {config.max_value_bytes // 1024} KB"
    return ValidationError(f"value too large ({limit})" + (f": key {json.dumps(key, ensure_ascii=False)}" if key else ""), field="memory")


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or any(c in key for c in "\n\r\x00"):
        raise ValidationError(KEY_MESSAGE, field="key")
    return key


def parse_write(body: Mapping[str, Any], config: KvConfig) -> KvWrite:
    """The seed's POST rules (§3.3): single when `key` is present, else bulk;
    unknown fields are ignored. ValidationError with the seed's message."""
    agent_id = body.get("agentId")
    if not isinstance(agent_id, str) or not agent_id:
        raise ValidationError("agentId required", field="agentId")
    if len(agent_id) > MAX_AGENT_ID:
        raise ValidationError(f"agentId must be at most {MAX_AGENT_ID} characters", field="agentId")
    if agent_id == ALL:
        raise ValidationError('agentId "all" is reserved: it names every agent in GET', field="agentId")
    memory = body.get("memory")
    if memory is None:
        raise ValidationError("memory data required", field="memory")
    if "key" in body:
        values = {_check_key(body["key"]): memory}
    else:
        if not isinstance(memory, dict) or not memory:
            raise ValidationError("memory must be a non-empty object of keys (or send key with a single value)", field="memory")
        if len(memory) > config.max_keys:
            raise ValidationError(f"too many keys (max {config.max_keys})", field="memory")
        values = {_check_key(key): value for key, value in memory.items()}
        for key, value in values.items():
            if value is None:
                raise ValidationError(f"memory data required: key {json.dumps(key, ensure_ascii=False)}", field="memory")
    for key, value in values.items():
        if len(compact(value).encode("utf-8")) > config.max_value_bytes:
            raise _too_large(config, None if "key" in body else key)
    return KvWrite(agent_id, values, single="key" in body)


@dataclass(frozen=True)
class _Plan:
    candidate: Candidate
    text: str  # the compact JSON (after redaction)
    blob: str | None


class KeyValueStore:
    """The key-value memory of every agent. Writes go through the
    controller; reads come from the catalog (which holds each card's text as
    last taken in), so a GET is one query and opens no card file."""

    def __init__(self, config: Config, controller: Controller) -> None:
        self.root_config = config  # replaced section by section on reload
        self.home = config.home_path
        self.controller = controller

    @property
    def config(self) -> KvConfig:
        return self.root_config.compat.kv

    @property
    def blobs(self) -> BlobStore:
        return BlobStore(self.home / self.config.blob_root)

    # --- agents ------------------------------------------------------------

    def agent_dir(self, agent: str) -> Path:
        return self.home / "agents" / agent

    def _ensure_agent(self, agent: str, agent_id: str) -> None:
        """Create the agent (its directory and agent.toml naming the 003 id)."""
        directory = self.agent_dir(agent)
        (directory / "memory").mkdir(parents=True, exist_ok=True)
        toml = directory / "agent.toml"
        if not toml.exists():
            # A TOML basic string: JSON's escapes are TOML's, but for DEL.
            quoted = json.dumps(agent_id, ensure_ascii=False).replace("\x7f", "\\u007f")
            toml.write_text(f"# created by the key-value API (seed 003)\nexternal_id = {quoted}\n", encoding="utf-8")

    def agents(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.home / "agents"))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [name for name in names if (self.home / "agents" / name / "memory").is_dir()]

    @staticmethod
    def selector(agent: str) -> Selector:
        return Selector(Scope.AGENT, agent_name=agent, agent_tier=Tier.GLOBAL)

    # --- writing -----------------------------------------------------------

    def write(self, request: KvWrite, now: str) -> tuple[str, int]:
        """Validate every key (a controller dry run each), then apply them in
        order. Returns (saved, keys written or unchanged)."""
        agent = agent_dir_name(request.agent_id)
        if not self.agent_dir(agent).is_dir() and not self.config.auto_create_agents:
            raise NotFound("Agent not found", agentId=request.agent_id)
        selector = self.selector(agent)
        self.controller.wait_ready()
        plans = [self._plan(selector, request.agent_id, key, value) for key, value in request.values.items()]
        for plan in plans:
            tried = self.controller.submit(dataclasses.replace(plan.candidate, dry_run=True))
            if tried.decision.op is Op.REJECT:
                self._reject(plan)
        self._check_room(len(plans))
        self._ensure_agent(agent, request.agent_id)
        saved = now
        for plan in plans:
            if plan.blob is not None:
                self.blobs.put(plan.text)
            outcome = self.controller.submit(plan.candidate)
            if outcome.decision.op is Op.REJECT:
                raise Rejected(outcome.decision.reason, decision=outcome.decision.to_dict())
            saved = outcome.decision.applied_at or now
        return saved, len(plans)

    def _reject(self, plan: _Plan) -> None:
        """Record the rejection (it writes nothing), and refuse the request."""
        outcome = self.controller.submit(plan.candidate)
        decision = outcome.decision
        raise Rejected(decision.reason if decision.op is Op.REJECT else "the controller refused it", decision=decision.to_dict())

    def _check_room(self, writes: int) -> None:
        """Refuse a bulk the rate limit cannot take whole (each key is a write)."""
        retry_after = self.controller.room_for(ORIGIN, writes)
        if retry_after is not None:
            raise RateLimited(f"{writes} writes would pass the limit for {ORIGIN}; retry in {retry_after}s", retry_after=retry_after)

    def _plan(self, selector: Selector, agent_id: str, key: str, value: Any) -> _Plan:
        scanner = self.controller.scanner_for(selector)  # with the patterns a bound configuration adds
        if scanner.redacting:
            value = scanner.redact_strings(value, keys=True)
        text = compact(value)
        card = card_fields(agent_id, key, text, inline_max_bytes=self.config.inline_max_bytes)
        candidate = Candidate(
            selector=selector,
            origin=ORIGIN,
            filename=card_filename(key),
            type=MemoryType.REFERENCE,
            name=card.name,
            description=card.description,
            body=card.body,
            entity="kv",
            attribute=key,
            tags=["kv"],
            metadata=card.metadata,
            extra_scan_texts={"kv_value": text} if card.blob else None,
        )
        return _Plan(candidate, text, card.blob)

    # --- reading -----------------------------------------------------------

    def read(self, agent_id: str | None) -> dict[str, Any]:
        """The seed's GET answer for one agent, or (None, "", "all") every agent."""
        self.controller.wait_ready()  # the catalog holds every card once the start-up scan is done
        if agent_id in (None, "", ALL):
            merged: dict[str, CardValue] = {}
            # By agent: on a tie of updated_at, the agent that sorts last wins.
            for _, card in self.cards(None):
                known = merged.get(card.key)
                if known is None or (card.updated_at or "") >= (known.updated_at or ""):
                    merged[card.key] = card
            return _answer(list(merged.values()), None)
        assert agent_id is not None
        agent = agent_dir_name(agent_id)
        if not self.agent_dir(agent).is_dir():
            raise NotFound("Agent not found", agentId=agent_id)
        return _answer([card for _, card in self.cards(agent)], agent_id)

    def cards(self, agent: str | None, *, blobs: bool = True) -> Iterator[tuple[str, CardValue]]:
        """(agent, card) of one agent's keys (None: every agent's) as the
        catalog holds them: the text each card had when it was taken in (a
        quarantined card is not there; redaction applied). `blobs`: read a
        blob card's value from its blob, else only check the blob is there."""
        if agent is None:
            rows = slot_texts(self.controller.catalog, ENTITY, AGENT_SCOPES, prefix=True)
        else:
            rows = slot_texts(self.controller.catalog, ENTITY, self.selector(agent).key)
        store = self.blobs
        for scope_key, filename, key, updated_at, mtime_ns, raw in rows:
            if "@" in scope_key or not filename.startswith(FILENAME_PREFIX) or key is None:
                continue  # an agent's workspace tier, or not a KV card
            frontmatter, body = split_card(raw)
            blob = blob_in(frontmatter)
            if blob is not None and not blobs and store.path(blob).is_file():
                value, broken = None, None  # a blob is immutable JSON, written whole
            else:
                value, broken = read_value(blob, body, store.get(blob) if blob else None)
            stamp_ = updated_at or format_time(dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.timezone.utc))
            yield scope_key.removeprefix(AGENT_SCOPES), CardValue(key, value, stamp_, broken)

    def problems(self) -> list[str]:
        """Cards whose value cannot be read (for /api/memory/health): the
        same one query as a GET of every agent."""
        return [
            f"kv key {json.dumps(card.key, ensure_ascii=False)} of agent {agent}: {card.broken}"
            for agent, card in self.cards(None, blobs=False)
            if card.broken
        ]

    def sweep_blobs(self, catalog: Catalog, now: dt.datetime) -> int:
        """Delete blobs no card names and no decision younger than
        blob_grace_days names (nor written within it)."""
        grace = dt.timedelta(days=self.config.blob_grace_days)
        keep = self.referenced_blobs() | blobs_named_since(catalog, stamp(now - grace, ms=True))
        return self.blobs.sweep(keep, older_than=grace, now=now)

    def referenced_blobs(self) -> set[str]:
        """Blobs the cards on disk name (the files, not the catalog: a
        deletion goes by what is there now, watched or not)."""
        return {
            blob
            for agent in self.agents()
            for name in _card_names(self.agent_dir(agent) / "memory")
            if (blob := _blob_in(self.agent_dir(agent) / "memory" / name)) is not None
        }


def blobs_named_since(catalog: Catalog, since: str) -> set[str]:
    """Blobs the cards of decisions taken since `since` name (a revert may
    bring one of them back)."""
    rows = catalog.db.execute(
        "SELECT post_content, prior_content FROM decisions WHERE decided_at >= ? AND target_filename LIKE ?",
        (since, FILENAME_PREFIX + "%"),
    )
    return {m for row in rows for text in row if text for m in _BLOB_RE.findall(text)}


def _answer(cards: list[CardValue], agent_id: str | None) -> dict[str, Any]:
    stamps = [c.updated_at for c in cards if c.updated_at]
    return {
        "memory": {c.key: c.value for c in cards},
        "agentId": agent_id,
        "count": len(cards),
        "lastUpdated": max(stamps) if stamps else None,
    }



def _card_names(directory: Path) -> list[str]:
    try:
        return [n for n in os.listdir(directory) if n.startswith(FILENAME_PREFIX) and n.endswith(".md")]
    except (FileNotFoundError, NotADirectoryError):
        return []


_BLOB_RE = re.compile(r"kv_blob: ([0-9a-f]{64})\b")


def _blob_in(path: Path) -> str | None:
    """The blob a card names, read cheaply from its frontmatter text."""
    try:
        head = path.read_bytes()[:8192].decode("utf-8", errors="ignore")
    except OSError:
        return None
    found = _BLOB_RE.search(head)
    return found.group(1) if found else None
