"""Small pure helpers the templates use: addresses, labels, diffs, times.

Every page address and its JSON twin are built here, from the same
selector fields the API takes, so the two never drift apart.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from ...features.injection import scope_label
from ...model import SELECTOR_FIELDS

DIFF_CONTEXT = 3


def selector_query(item: Mapping[str, Any], **extra: Any) -> str:
    """`scope=workspace&workspace_id=ws_…` for a summary, a decision or a
    selector dict (empty fields left out), plus `extra`."""
    fields = {key: item.get(key) for key in SELECTOR_FIELDS}
    fields.update(extra)
    return urlencode({key: value for key, value in fields.items() if value not in (None, "")})


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def memory_href(item: Mapping[str, Any]) -> str:
    return _with_query(f"/memory/{quote(item['filename'])}", selector_query(item))


def with_filename(item: Mapping[str, Any], filename: str) -> dict[str, Any]:
    """A scope's selector fields with a file in it: what memory_href takes."""
    return {**item, "filename": filename}


def decision_memory_href(decision: Mapping[str, Any]) -> str:
    """The page of the file a decision targeted (in the decision's scope)."""
    return memory_href(with_filename(decision, decision["target_filename"]))


def api_memory_href(item: Mapping[str, Any]) -> str:
    return _with_query(f"/api/memory/{quote(item['filename'])}", selector_query(item))


def scope_href(item: Mapping[str, Any]) -> str:
    return _with_query("/", selector_query(item))


def decisions_href(item: Mapping[str, Any], **extra: Any) -> str:
    return _with_query("/decisions", selector_query(item, **extra))


def workspace_names(workspaces: list[dict[str, Any]]) -> dict[str, str]:
    """Workspace id → what people call it: its folder's name (the whole
    path when two folders share a name)."""
    tails = [Path(ws["path"]).name or ws["path"] for ws in workspaces]
    return {
        ws["id"]: tail if tails.count(tail) == 1 else ws["path"]
        for ws, tail in zip(workspaces, tails)
    }


def scope_title(item: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """"Global", "Workspace repo", "Agent bob", "Agent bob in repo" (the
    workspace id when its name is not known)."""
    workspace_id = item.get("workspace_id")
    if names and workspace_id in names and item.get("scope") in ("workspace", "agent"):
        item = {**item, "workspace_id": names[workspace_id]}
    label = scope_label(item)
    return label[:1].upper() + label[1:]


def when(stamp: str | None) -> str:
    """`2026-12-02T00:32:59.123Z` → `2026-12-02 00:32:59`; blank stays "—"."""
    if not stamp:
        return "—"
    return str(stamp).replace("T", " ").split(".")[0].rstrip("Z")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add | del | ctx | hunk
    text: str


def diff_lines(prior: str | None, post: str | None) -> list[DiffLine]:
    """A unified diff of a decision's prior → post content, line by line."""
    before = (prior or "").splitlines()
    after = (post or "").splitlines()
    lines = []
    for raw in difflib.unified_diff(before, after, "before", "after", n=DIFF_CONTEXT, lineterm=""):
        if raw.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(raw[:1], "ctx")
        lines.append(DiffLine(kind, raw))
    return lines


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
