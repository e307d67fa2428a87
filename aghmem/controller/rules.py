"""The controller's rules (DESIGN §5), in order, as plain functions.

Two steps, so that the rules never call back into the controller:
`draft()` applies the policy and the safety scan and names the target
file; the controller reads that file (and a slot's, see `slot_of`), then
`conclude()` takes the parsed files and returns the Verdict: the op, its
targets and the full `rule_trace`. Neither writes anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..config import AUTONOMOUS_ORIGINS, Config
from ..model import MemoryType, Op, RuleResult, Selector
from ..storage.catalog import Catalog
from ..storage.filenames import make_filename
from ..storage.files import ParsedMemory, body_hash, canonical_body
from .safety import Scanner


@dataclass
class Candidate:
    """A proposed change to one scope, from any origin."""

    selector: Selector
    origin: str
    delete: bool = False
    filename: str | None = None
    type: MemoryType | None = None
    name: str | None = None
    description: str | None = None
    body: str | None = None
    entity: str | None = None
    attribute: str | None = None
    tags: list[str] | None = None
    provenance: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None
    dry_run: bool = False
    if_match: str | None = None
    # PATCH: the file must exist, and fields left None keep their value.
    patch: bool = False
    # Texts that go somewhere beside the card (a key-value blob: COMPAT N8):
    # scanned, and redacted, with the fields, never written to the card,
    # not counted in max_content_chars. The redacted versions are in the
    # Draft's `extra_texts`.
    extra_scan_texts: dict[str, str] | None = None
    # provenance.source_sessions replaces the memory's list instead of
    # adding to it (an update that drops a deleted session: CF session delete).
    replace_source_sessions: bool = False

    def identity(self) -> dict[str, Any]:
        """What `candidate_hash` is computed over (no timestamps)."""
        identity = {
            "delete": self.delete,
            "filename": self.filename,
            "type": self.type.value if self.type else None,
            "name": self.name,
            "description": self.description,
            "body": self.body,
            "entity": self.entity,
            "attribute": self.attribute,
            "tags": self.tags,
            "provenance": self.provenance,
            "metadata": self.metadata,
            "patch": self.patch,
        }
        if self.extra_scan_texts:  # only then: the hash of every other candidate stays as it was
            identity["extra_scan_texts"] = _digests(self.extra_scan_texts)
        if self.replace_source_sessions:  # likewise
            identity["replace_source_sessions"] = True
        return identity

    def changes_sessions(self, current: ParsedMemory) -> bool:
        """Whether this candidate sets a source_sessions list the memory does not have."""
        if not self.replace_source_sessions:
            return False
        known = current.provenance.get("source_sessions")
        return list((self.provenance or {}).get("source_sessions") or []) != (list(known) if isinstance(known, list) else [])


def _digests(texts: dict[str, str] | None) -> dict[str, str] | None:
    """Extra texts in a candidate's identity, by their hash (a blob's are 100 KB)."""
    if not texts:
        return None
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in sorted(texts.items())}


@dataclass
class Verdict:
    op: Op
    reason: str
    confidence: float = 1.0
    targets: list[str] = field(default_factory=list)
    target_filename: str | None = None
    trace: list[RuleResult] = field(default_factory=list)
    # name / description / body after redaction, and the merged fields.
    fields: dict[str, Any] = field(default_factory=dict)
    # The target file as `decide` read it (None for an add), so the
    # controller does not read and parse it a second time.
    current: ParsedMemory | None = None
    # Set by the controller: the frontmatter it will write.
    post_meta: dict[str, Any] = field(default_factory=dict)
    # The file the candidate names, or the one its slug gives.
    filename: str | None = None

    @property
    def ambiguous(self) -> bool:
        return bool(self.trace) and self.trace[-1].name == "ambiguous"


def _stop(verdict: Verdict, op: Op, reason: str, rule: str, *, target: str | None = None, details: str | None = None) -> Verdict:
    verdict.op = op
    verdict.reason = reason
    verdict.trace.append(RuleResult(rule, op not in (Op.REJECT,), reason, target, details))
    if target:
        verdict.target_filename = target
        if target not in verdict.targets:
            verdict.targets.append(target)
    return verdict


FIELD_KEYS = ("type", "name", "description", "body", "entity", "attribute", "tags", "metadata")


def merged_fields(given: dict[str, Any], current: ParsedMemory | None) -> dict[str, Any]:
    """The memory's fields after this candidate: what it omits (None) keeps
    its current value; an empty string or list clears it."""
    fields = dict(given)
    if current is None:
        return fields
    meta = current.meta
    existing = {
        "type": current.type,
        "name": current.name,
        "description": current.description,
        "body": current.body,
        "entity": meta.get("entity"),
        "attribute": meta.get("attribute"),
        "tags": meta.get("tags"),
        "metadata": meta.get("metadata"),
    }
    for key, value in existing.items():
        if fields.get(key) is None:
            fields[key] = value
    return fields


@dataclass
class Draft:
    """A candidate after the policy and the scan: either already decided
    (`done`), or waiting for its target file `filename`."""

    verdict: Verdict
    done: bool = False
    given: dict[str, Any] = field(default_factory=dict)
    filename: str | None = None
    fallback_name: str = ""
    extra_texts: dict[str, str] = field(default_factory=dict)  # the candidate's extra_scan_texts, after the scan


def draft(candidate: Candidate, *, config: Config, scanner: Scanner) -> Draft:
    """Rules 1–3: the policy, the scan (which may redact), a delete; and the
    file this candidate targets (the named one, else its slug's)."""
    verdict = Verdict(op=Op.NOOP, reason="")
    trace = verdict.trace
    policy = config.controller.policy

    # 1. Policy.
    if candidate.origin not in policy.allow_origins:
        return Draft(_stop(verdict, Op.REJECT, f"origin {candidate.origin!r} is not allowed", "policy.origin"), done=True)
    trace.append(RuleResult("policy.origin", True, f"origin {candidate.origin} allowed"))
    if candidate.delete:
        verdict.trace.append(RuleResult("memory_scan", True, "not scanned: delete"))
        return Draft(verdict, filename=candidate.filename)

    given = {key: getattr(candidate, key) for key in FIELD_KEYS}
    length = sum(len(given[key] or "") for key in ("name", "description", "body"))
    if length > policy.max_content_chars:
        reason = f"content is {length} characters; the limit is {policy.max_content_chars}"
        return Draft(_stop(verdict, Op.REJECT, reason, "policy.max_content_chars"), done=True)
    trace.append(RuleResult("policy.max_content_chars", True, f"{length} characters"))

    # 2. Safety scan of what the candidate brings (may redact).
    texts = {key: given[key] for key in ("name", "description", "body") if given[key] is not None}
    extra = {f"extra:{name}": text for name, text in (candidate.extra_scan_texts or {}).items()}
    outcome = scanner.scan({**texts, **extra}, autonomous=candidate.origin in AUTONOMOUS_ORIGINS)
    if outcome.findings:
        first = outcome.findings[0]
        details = "; ".join(f"{f.rule}: {f.excerpt}" for f in outcome.findings)
        verdict = _stop(verdict, Op.REJECT, f"content contains {first.reason}", f"memory_scan.{first.rule}", details=details)
        return Draft(verdict, done=True)
    given.update({key: text for key, text in outcome.texts.items() if key in texts})
    extra_texts = {key.removeprefix("extra:"): text for key, text in outcome.texts.items() if key in extra}
    scan_reason = f"redacted {outcome.redactions} match(es)" if outcome.redactions else "clean"
    trace.append(RuleResult("memory_scan", True, scan_reason))
    trace.append(RuleResult("delete", True, "not a delete"))

    # The target: the named file, else the one this memory's slug names.
    fallback_name = " ".join((given["body"] or "").split()[:5]) or "Untitled memory"
    filename = candidate.filename or make_filename(
        given["type"], entity=given["entity"], name=given["name"] or fallback_name, body=given["body"] or ""
    )
    verdict.filename = filename
    return Draft(verdict, given=given, filename=filename, fallback_name=fallback_name, extra_texts=extra_texts)


def conclude_delete(draft: Draft, *, exists: bool) -> Verdict:
    """Rule 3: a delete of a file that is there (parsable or not) deletes it."""
    assert draft.filename is not None
    if not exists:
        return _stop(draft.verdict, Op.NOOP, f"{draft.filename} does not exist", "delete")
    return _stop(draft.verdict, Op.DELETE, f"deletes {draft.filename}", "delete", target=draft.filename)


def slot_of(candidate: Candidate, current: ParsedMemory | None, draft: Draft, catalog: Catalog) -> list[str]:
    """The other files in the slot (entity + attribute) this memory fills."""
    fields = merged_fields(draft.given, current)
    if not fields.get("entity"):
        return []
    slot = catalog.entries_in_slot(candidate.selector.key, fields["entity"], fields.get("attribute"))
    return [e.filename for e in slot if e.filename != draft.filename]


def conclude(
    candidate: Candidate,
    draft: Draft,
    *,
    current: ParsedMemory | None,
    slot: list[str],
    slot_file: ParsedMemory | None,
    config: Config,
    catalog: Catalog,
) -> Verdict:
    """Rules 4–7 given the target as it is on disk (`current`, None when
    absent), the slot's other files and, when there is one, its file."""
    verdict, filename = draft.verdict, draft.filename
    assert filename is not None
    trace = verdict.trace
    fields = merged_fields(draft.given, current)
    fields["name"] = fields.get("name") or draft.fallback_name
    verdict.fields = fields

    # 4. Exact duplicate (canonical body) of another memory in this scope.
    digest = body_hash(fields.get("body") or "")
    others = [e for e in catalog.entries_with_body(candidate.selector.key, digest) if e.filename != filename]
    if others:
        return _stop(
            verdict, Op.NOOP, f"same content as {others[0].filename}", "exact_duplicate", target=others[0].filename
        )
    if current is not None and _unchanged(current, fields) and not candidate.changes_sessions(current):
        return _stop(verdict, Op.NOOP, "no change to the memory", "exact_duplicate", target=filename)
    trace.append(RuleResult("exact_duplicate", True, "no memory with the same content"))

    # 5-6. Same filename, same slot.
    if current is not None and not slot:
        verdict.targets = [filename]
        verdict.current = current
        return _stop(verdict, Op.UPDATE, f"updates {filename}", "same_filename", target=filename)
    if current is None and len(slot) == 1:
        if slot_file is not None and _unchanged(slot_file, fields, ignore_name=True):
            return _stop(verdict, Op.NOOP, f"slot already holds this value in {slot[0]}", "same_slot", target=slot[0])
        verdict.current = slot_file
        return _stop(
            verdict,
            Op.UPDATE,
            f"new value for {fields['entity']}/{fields.get('attribute') or '-'} in {slot[0]}",
            "same_slot",
            target=slot[0],
        )
    if current is None and not slot:
        trace.append(RuleResult("same_slot", True, "no memory in the same slot"))
        return _stop(verdict, Op.ADD, f"new memory {filename}", "add", target=filename)

    return _ambiguous(verdict, filename, current, slot, config)


def _ambiguous(verdict: Verdict, filename: str, current: ParsedMemory | None, slot: list[str], config: Config) -> Verdict:
    """Rule 7: several targets; `default_op_on_fail` (or the LLM tie-break)."""
    targets = ([filename] if current is not None else []) + slot
    verdict.targets = targets
    fallback = Op(config.controller.default_op_on_fail)
    reason = f"ambiguous: {len(targets)} possible targets ({', '.join(targets)}); default_op_on_fail={fallback.value}"
    verdict.confidence = 0.5
    if fallback is Op.ADD and current is not None:
        fallback = Op.UPDATE
    changes = fallback in (Op.ADD, Op.UPDATE)
    verdict.current = current
    return _stop(verdict, fallback, reason, "ambiguous", target=filename if changes else None)


def _unchanged(current: ParsedMemory, fields: dict[str, Any], *, ignore_name: bool = False) -> bool:
    meta = current.meta
    if canonical_body(current.body) != canonical_body(fields.get("body") or ""):
        return False
    if ignore_name:
        return True
    return (
        current.type == fields.get("type")
        and current.name == fields.get("name")
        and current.description == (fields.get("description") or "")
        and meta.get("entity") == fields.get("entity")
        and meta.get("attribute") == fields.get("attribute")
        and (meta.get("tags") or None) == (fields.get("tags") or None)
        and (meta.get("metadata") or None) == (fields.get("metadata") or None)
    )
