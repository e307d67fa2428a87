"""The recall package: what recall hands to a model, within a byte budget.

Entries (one per unshadowed result, in rank order) go in while their text
(title, body, banner, why_recalled; UTF-8 bytes) fits
`recall.max_package_bytes`; the first that does not is cut to the room left,
or omitted with every later one. The header counts and hashes exactly what
is in the blocks, so a runtime can tell two packages apart by the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Sequence, TypeVar

from ..model import Entry
from ..storage import analysis

SNIPPET_CHARS = 200
HEADER_PREFIX = "AGH memory recall v1"
# An entry cut to fit keeps at least this much of its body; with less room
# left it is omitted instead (a stub helps nobody).
MIN_CUT_BODY = 256
ELLIPSIS = "…"

T = TypeVar("T")


def snippet(body: str, terms: list[str]) -> str:
    """A window of the body around the first query term it contains."""
    flat = " ".join(body.split())
    folded = flat.casefold() if flat.isascii() else analysis.fold(flat)
    start = -1
    for term in terms:
        start = folded.find(term)
        if start != -1:
            break
    if start == -1 or len(flat) <= SNIPPET_CHARS:
        return flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")
    begin = max(0, start - SNIPPET_CHARS // 3)
    text = flat[begin : begin + SNIPPET_CHARS]
    return ("…" if begin else "") + text + ("…" if begin + SNIPPET_CHARS < len(flat) else "")


def entry_item(entry: Entry, body: str, banner: str | None, why: list[str], now: dt.datetime) -> dict[str, Any]:
    """One entry of a recall block."""
    return {
        "id": entry.id,
        "filename": entry.filename,
        "title": entry.name,
        "type": entry.type.value,
        "body": body,
        "truncated": False,
        "mod_time": entry.mod_time,
        "age_days": int(entry.age_days(now)),  # whole days, as the staleness banner counts them
        "staleness_banner": banner,
        "why_recalled": why,
        "workspace_id": entry.selector.workspace_id,
    }


def _bytes(text: str | None) -> int:
    if not text:
        return 0
    return len(text) if text.isascii() else len(text.encode())


def size(item: dict[str, Any]) -> int:
    """An entry's bytes as a model reads them: title, body, staleness
    banner and why_recalled, UTF-8. (Serialising each entry to JSON to
    count its bytes cost 0.3 ms a search with 10 results.)"""
    return _bytes(item["title"]) + _bytes(item["body"]) + _bytes(item["staleness_banner"]) + sum(map(_bytes, item["why_recalled"]))


def _cut(item: dict[str, Any], room: int) -> dict[str, Any] | None:
    """The entry with its body cut so the whole takes at most `room` bytes,
    or None when that leaves less than MIN_CUT_BODY bytes of body."""
    keep = room - size({**item, "body": ELLIPSIS})
    if keep < MIN_CUT_BODY:
        return None
    text = item["body"].encode()[:keep].decode(errors="ignore")  # whole characters only
    return {**item, "body": text + ELLIPSIS, "truncated": True}


def fit(entries: Sequence[tuple[T, dict[str, Any]]], budget: int) -> tuple[list[tuple[T, dict[str, Any]]], list[tuple[T, dict[str, Any]]], int]:
    """(packaged, omitted, bytes used) of `entries` (in rank order) under `budget`."""
    packaged: list[tuple[T, dict[str, Any]]] = []
    used = 0
    for i, (key, item) in enumerate(entries):
        need = size(item)
        if used + need <= budget:
            packaged.append((key, item))
            used += need
            continue
        cut = _cut(item, budget - used)
        if cut is not None:
            packaged.append((key, cut))
            used += size(cut)
            i += 1
        return packaged, list(entries[i:]), used
    return packaged, [], used


def recall_package(
    packaged: Sequence[tuple[Entry, dict[str, Any]]], omitted: Sequence[dict[str, Any]], used: int, budget: int
) -> dict[str, Any]:
    """Header and blocks by scope (global first). The hash covers exactly
    the entries in the blocks, a cut one with the bytes of body it kept."""
    blocks: dict[tuple[int, str, str | None], dict[str, Any]] = {}
    hashed: list[str] = []
    for entry, item in packaged:
        sel = entry.selector
        key = (sel.depth, sel.key, sel.agent_tier.value if sel.agent_tier else None)
        block = blocks.setdefault(
            key,
            {
                "scope": sel.scope.value,
                "agent_tier": key[2],
                "workspace_id": sel.workspace_id,
                "agent_name": sel.agent_name,
                "entries": [],
            },
        )
        block["entries"].append(item)
        cut = f":cut{len(item['body'].encode())}" if item["truncated"] else ""
        hashed.append(f"{entry.id}:{entry.content_hash}{cut}")
    content_hash = hashlib.sha256("\n".join(hashed).encode()).hexdigest()
    return {
        "header": {
            "text": f"{HEADER_PREFIX} entries={len(hashed)} hash={content_hash}",
            "content_hash": content_hash,
        },
        "blocks": [blocks[key] for key in sorted(blocks)],
        "bytes": used,
        "max_bytes": budget,
        "truncated": bool(omitted) or any(item["truncated"] for _, item in packaged),
        "omitted": [{"id": item["id"], "filename": item["filename"]} for item in omitted],
    }
