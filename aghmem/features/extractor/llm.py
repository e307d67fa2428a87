"""The extractor's LLM mode: what the provider is told, and reading its
answer (JSON Lines, one memory each) back into `Extracted` items."""

from __future__ import annotations

import json

from ...model import MemoryType
from ...storage.filenames import slugify
from .patterns import Extracted

LLM_SYSTEM = (
    "You extract durable memories from a conversation between a developer (user) and a coding agent: stated "
    "preferences, standing instructions, and lasting facts about the user or the project. Ignore questions, "
    "small talk, code, logs and anything true only for this task. Answer JSON Lines only, one object per memory: "
    '{"type": "user|feedback|project|reference", "name": "a short title", "content": "one or two sentences", '
    '"entity": "optional", "attribute": "optional"}. Answer nothing when there is nothing durable.'
)


def llm_item(line: str, sequence: int | None) -> Extracted | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind, content = data.get("type"), data.get("content")
    if kind not in {t.value for t in MemoryType} or not isinstance(content, str) or not content.strip():
        return None
    name = data.get("name") if isinstance(data.get("name"), str) else None
    entity = data.get("entity") if isinstance(data.get("entity"), str) else None
    attribute = data.get("attribute") if isinstance(data.get("attribute"), str) and entity else None
    filename = f"{kind}_{slugify(attribute)}.md" if attribute else None
    return Extracted(kind, (name or content)[:120], content.strip(), "llm", entity, attribute, 0.8, sequence, filename)
