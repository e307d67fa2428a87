"""What a decision records: ids, timestamps, the post state's frontmatter,
the decision's view of it, and how an applied decision is undone.

Pure functions of their inputs; the controller decides when to call them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from ..errors import Conflict
from ..model import Decision, MemoryType, Op, RuleResult, Selector
from ..storage.files import ParsedMemory, Refusal
from .rules import Candidate, Verdict


def decision_id(idempotency_key: str) -> str:
    return "dec_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


def parse_stamp(text: str) -> dt.datetime:
    """The moment a stamp names (ISO 8601; a trailing Z is UTC)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def stamp(moment: dt.datetime, *, ms: bool) -> str:
    """UTC ISO 8601: seconds in files, milliseconds in decisions."""
    moment = moment.astimezone(dt.timezone.utc)
    if ms:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
    provenance = dict(meta.get("provenance") or {})
    given = candidate.provenance or {}
    provenance["source_actor"] = candidate.origin
    sessions = list(provenance.get("source_sessions") or [])
    for session in given.get("source_sessions") or []:
        if session not in sessions:
            sessions.append(session)
    if sessions:
        provenance["source_sessions"] = sessions
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


def frontmatter_view(selector: Selector, filename: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The decision's `frontmatter`, in seed 004's shape."""
    provenance = meta.get("provenance") or {}
    return {
        **selector.to_dict(),
        "filename": filename,
        "name": meta.get("name"),
        "description": meta.get("description") or "",
        "type": meta.get("type"),
        "entity": meta.get("entity"),
        "attribute": meta.get("attribute"),
        "tags": meta.get("tags") or [],
        "provenance": {
            "source_actor": provenance.get("source_actor"),
            "source_session_ids": provenance.get("source_sessions") or [],
            "confidence": provenance.get("confidence"),
            "superseded_by": provenance.get("superseded_by"),
            "created_at": provenance.get("created_at"),
            "updated_at": provenance.get("updated_at"),
        },
    }


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
        decided_at=at,
        status="recorded",
    )
