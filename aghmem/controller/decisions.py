"""What a decision records, and every Decision built in one place: a
submitted candidate's, a revert's, an observed hand edit's, a quarantine;
ids, stamps, the post state's frontmatter, how an applied decision is undone.

Pure functions of their inputs: the controller reads the disk and the log
(the prior bytes, the idempotency key) and passes them in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from ..config import FileConfig
from ..errors import Conflict, ParseError
from ..model import Decision, MemoryType, Op, RuleResult, Selector, default_type, iso_utc
from ..storage.files import ParsedMemory, check_size, content_hash, parse_memory, render_memory
from ..storage.reading import Refusal
from .rules import Candidate, Verdict


def decision_id(idempotency_key: str) -> str:
    return "dec_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


def parse_stamp(text: str) -> dt.datetime:
    """The moment a stamp names (ISO 8601; a trailing Z is UTC)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def stamp(moment: dt.datetime, *, ms: bool) -> str:
    """UTC ISO 8601: seconds in files, milliseconds in decisions."""
    return iso_utc(moment, ms=ms)


def post_meta(candidate: Candidate, verdict: Verdict, current: ParsedMemory | None, now: dt.datetime) -> dict[str, Any]:
    """The frontmatter to write: the current file's keys (hand-written ones
    too), overlaid with the candidate's fields, and the provenance."""
    meta: dict[str, Any] = dict(current.meta) if current else {}
    for key in ("name", "description", "type", "entity", "attribute", "tags", "metadata"):
        value = verdict.fields.get(key)
        if isinstance(value, MemoryType):
            value = value.value
        if value is None:
            continue
        if value in ("", [], {}):
            meta.pop(key, None)
        else:
            meta[key] = value
    current_provenance = meta.get("provenance")
    provenance = dict(current_provenance) if isinstance(current_provenance, dict) else {}
    given = candidate.provenance or {}
    provenance["source_actor"] = candidate.origin
    known = provenance.get("source_sessions")
    sessions = list(known) if isinstance(known, list) and not candidate.replace_source_sessions else []
    for session in given.get("source_sessions") or []:
        if session not in sessions:
            sessions.append(session)
    if sessions:
        provenance["source_sessions"] = sessions
    elif candidate.replace_source_sessions:
        provenance.pop("source_sessions", None)
    if given.get("confidence") is not None:
        provenance["confidence"] = given["confidence"]
    written = stamp(now, ms=False)
    provenance.setdefault("created_at", written)
    provenance["updated_at"] = written
    meta["provenance"] = provenance
    return meta


def verdict_parsed(decision: Decision, verdict: Verdict) -> ParsedMemory | None:
    """The post state as parsed data, so applying need not re-parse bytes
    just rendered."""
    if decision.post_content is None:
        return None
    body = (verdict.fields.get("body") or "").strip("\n")
    return ParsedMemory(meta=verdict.post_meta, body=body, raw=decision.post_content.encode("utf-8"))


def frontmatter_view(selector: Selector, filename: str, meta: dict[str, Any], *, at: str, origin: str) -> dict[str, Any]:
    """The decision's `frontmatter`, in seed 004's shape, from a memory's
    frontmatter as written (hand-written ones too: any value may be of any
    type). A memory without provenance dates is dated `at`, when the
    decision saw it; `confidence` is text (`high`, or a number as written)."""
    provenance = meta.get("provenance")
    provenance = provenance if isinstance(provenance, dict) else {}
    sessions = provenance.get("source_sessions")
    memory_type = meta.get("type")
    return {
        **selector.to_dict(),
        "filename": filename,
        "name": _text(meta.get("name")) or "",
        "description": _text(meta.get("description")) or "",
        "type": memory_type.value if isinstance(memory_type, MemoryType) else memory_type or default_type(selector).value,
        "entity": _text(meta.get("entity")),
        "attribute": _text(meta.get("attribute")),
        "tags": meta.get("tags") if isinstance(meta.get("tags"), list) else [],
        "provenance": {
            "source_actor": _text(provenance.get("source_actor")) or origin,
            "source_session_ids": [str(s) for s in sessions] if isinstance(sessions, list) else [],
            "confidence": _text(provenance.get("confidence")),
            "superseded_by": _text(provenance.get("superseded_by")),
            "created_at": _text(provenance.get("created_at")) or at,
            "updated_at": _text(provenance.get("updated_at")) or at,
        },
    }


def _text(value: Any) -> str | None:
    """A frontmatter value as text: strings as they are, numbers as JSON spells them."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _meta_of(text: str | bytes | None, filename: str, selector: Selector) -> dict[str, Any]:
    """The frontmatter of a memory's text, or nothing if it cannot be parsed."""
    if text is None:
        return {}
    try:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        return parse_memory(raw, filename, default_type(selector)).meta
    except (ParseError, UnicodeError):
        return {}


def revert_plan(original: Decision, current: str | None) -> tuple[Op, str | None, str]:
    """(op, content to write, reason) that undoes `original`, given the
    file's current hash; Conflict when the file moved on since."""
    name = original.target_filename
    if original.op is Op.ADD:
        if current is None or current != original.post_content_hash:
            raise Conflict(f"{name} has changed since {original.id} added it; not reverted", current_hash=current)
        return Op.DELETE, None, f"reverts {original.id}: removes the memory it added"
    if original.op is Op.UPDATE:
        if current is None or current != original.post_content_hash:
            raise Conflict(f"{name} has changed since {original.id} updated it; not reverted", current_hash=current)
        if original.prior_content is None:
            return Op.DELETE, None, f"reverts {original.id}: the file did not exist before"
        return Op.UPDATE, original.prior_content, f"reverts {original.id}: restores the prior content"
    if original.op is Op.DELETE:
        if current is not None:
            raise Conflict(f"{name} exists again since {original.id} deleted it; not reverted", current_hash=current)
        if original.prior_content is None:
            raise Conflict(f"{original.id} kept no prior content to restore")
        return Op.ADD, original.prior_content, f"reverts {original.id}: restores the deleted memory"
    raise Conflict(f"decision {original.id} ({original.op.value}) changed nothing; nothing to revert")


def observed_decision(
    key: str,
    selector: Selector,
    filename: str,
    op: Op,
    *,
    at: str,
    post: bytes | None,
    prior: str | None,
    prior_hash: str | None,
) -> Decision:
    """A change a person or another tool made on disk, taken in (origin
    `file`, source `observed`, already applied)."""
    post_hash = hashlib.sha256(post).hexdigest() if post is not None else None
    verb = {Op.ADD: "created", Op.UPDATE: "edited", Op.DELETE: "deleted"}[op]
    return Decision(
        id=decision_id(key),
        idempotency_key=key,
        candidate_hash=post_hash or hashlib.sha256(f"delete:{selector.key}/{filename}".encode()).hexdigest(),
        selector=selector,
        op=op,
        origin="file",
        source="observed",
        reason=f"{filename} {verb} on disk",
        targets=[filename],
        target_filename=filename,
        post_content=post.decode("utf-8", errors="replace") if post is not None else None,
        post_content_hash=post_hash,
        prior_content=prior,
        prior_content_hash=prior_hash,
        rule_trace=[RuleResult("observed", True, f"{verb} outside the daemon", filename)],
        frontmatter=frontmatter_view(selector, filename, _meta_of(post if post is not None else prior, filename, selector), at=at, origin="file"),
        decided_at=at,
        applied_at=at,
        status="applied",
    )


def quarantine_decision(
    key: str, selector: Selector, filename: str, refusal: Refusal, *, at: str, fingerprint: str
) -> Decision:
    """A file on disk refused by a limit or the safety scan: recorded as an
    observed `reject`. The file is left as it is; its text is not kept here
    (a decision log is read by people and agents alike)."""
    return Decision(
        id=decision_id(key),
        idempotency_key=key,
        candidate_hash=hashlib.sha256(f"quarantine:{fingerprint}".encode()).hexdigest(),
        selector=selector,
        op=Op.REJECT,
        origin="file",
        source="observed",
        reason=f"{filename} quarantined: {refusal.reason}",
        confidence=1.0,
        targets=[filename],
        target_filename=filename,
        post_content_hash=None if fingerprint.startswith("size:") else fingerprint,
        rule_trace=[RuleResult(refusal.rule, False, refusal.reason, filename)],
        frontmatter=frontmatter_view(selector, filename, {}, at=at, origin="file"),
        decided_at=at,
        status="recorded",
    )


def candidate_hash(candidate: Candidate) -> str:
    """What a candidate asks for, hashed (origin, scope and fields; no time)."""
    identity = {"origin": candidate.origin, "scope": candidate.selector.key, **candidate.identity()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def write_decision(
    candidate: Candidate,
    verdict: Verdict,
    *,
    key: str,
    candidate_hash: str,
    now: dt.datetime,
    limits: FileConfig,
    prior: bytes | None = None,
) -> Decision:
    """The decision on a submitted candidate: for an add or update, the bytes
    it will write (TooLarge past the file limits); for a delete, `prior`."""
    decision = Decision(
        id=decision_id(key),
        idempotency_key=key,
        candidate_hash=candidate_hash,
        selector=candidate.selector,
        op=verdict.op,
        origin=candidate.origin,
        reason=verdict.reason,
        confidence=verdict.confidence,
        targets=verdict.targets,
        target_filename=verdict.target_filename,
        rule_trace=verdict.trace,
        decided_at=stamp(now, ms=True),
    )
    if verdict.op in (Op.ADD, Op.UPDATE):
        assert verdict.target_filename
        current = verdict.current
        meta = post_meta(candidate, verdict, current, now)
        verdict.post_meta = meta
        raw = render_memory(meta, verdict.fields.get("body") or "")
        check_size(raw, max_bytes=limits.max_bytes, max_lines=limits.max_lines)
        decision.post_content = raw.decode("utf-8")
        decision.post_content_hash = content_hash(raw)
        decision.frontmatter = frontmatter_view(
            candidate.selector, verdict.target_filename, meta, at=decision.decided_at, origin=candidate.origin
        )
        if current is not None:
            decision.prior_content = current.raw.decode("utf-8")
            decision.prior_content_hash = current.content_hash
        return decision
    if verdict.op is Op.DELETE and prior is not None:
        decision.prior_content = prior.decode("utf-8", errors="replace")
        decision.prior_content_hash = content_hash(prior)
    decision.frontmatter = _unwritten_view(candidate, verdict, decision, prior)
    return decision


def _unwritten_view(candidate: Candidate, verdict: Verdict, decision: Decision, prior: bytes | None) -> dict[str, Any]:
    """The frontmatter of a decision that writes nothing: the memory a delete
    removes or a noop leaves as it is; for a rejection, only the type asked
    for (the candidate's text may be what got it rejected)."""
    filename = verdict.target_filename or verdict.filename or candidate.filename or ""
    if prior is not None:
        meta = _meta_of(prior, filename, candidate.selector)
    elif verdict.current is not None:
        meta = verdict.current.meta
    else:
        meta = {"type": candidate.type}
    return frontmatter_view(candidate.selector, filename, meta, at=decision.decided_at, origin=candidate.origin)


def revert_decision(
    original: Decision, op: Op, post: str | None, reason: str, *, key: str, now: dt.datetime, prior: bytes | None
) -> Decision:
    """The decision that undoes `original` (see revert_plan); `prior` is the
    file as it is now (None if absent)."""
    assert original.target_filename
    selector, filename = original.selector, original.target_filename
    decision = Decision(
        id=decision_id(key),
        idempotency_key=key,
        candidate_hash=hashlib.sha256(f"revert:{original.id}".encode()).hexdigest(),
        selector=selector,
        op=op,
        origin="revert",
        reason=reason,
        targets=[filename],
        target_filename=filename,
        rule_trace=[RuleResult("revert.hash_check", True, reason, filename)],
        decided_at=stamp(now, ms=True),
        reverts=original.id,
    )
    if post is not None:
        decision.post_content = post
        decision.post_content_hash = content_hash(post.encode("utf-8"))
    meta = _meta_of(post, filename, selector) if post is not None else _meta_of(prior, filename, selector)
    decision.frontmatter = frontmatter_view(selector, filename, meta, at=decision.decided_at, origin="revert")
    if prior is not None:
        decision.prior_content = prior.decode("utf-8", errors="replace")
        decision.prior_content_hash = content_hash(prior)
    return decision
