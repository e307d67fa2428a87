"""KV cards: one key of an agent's key-value memory as one memory file
(COMPAT.md §3.2). Pure: names, bodies, fences, and reading a value back.

A card is an ordinary `reference` memory in the agent's global scope, in
the slot (entity `kv`, attribute <key>), so a new value is an update and
the old one stays in the decision's prior content.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..storage.filenames import slugify
from ..storage.files import body_of

ENTITY = "kv"
FILENAME_PREFIX = "reference_kv_"
PREVIEW_BYTES = 4096
# A plain agent id is its own directory name; anything else (and a plain id
# that looks like a mapped one) maps to a-<slug>-<sha12>.
_PLAIN_AGENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAPPED_AGENT = re.compile(r"^a-.*-[0-9a-f]{12}$")
# An opening fence line, its backtick run captured (closed by the same run).
_FENCE = re.compile(r"^(`{3,})[^`\n]*\n(.*?)\n?^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def agent_dir_name(agent_id: str) -> str:
    """The directory (and native agent_name) of a 003 agentId."""
    if _PLAIN_AGENT.fullmatch(agent_id) and not _MAPPED_AGENT.fullmatch(agent_id):
        return agent_id
    slug = re.sub(r"[^a-z0-9]+", "-", agent_id.lower()).strip("-")[:40].strip("-") or "x"
    return f"a-{slug}-{sha256(agent_id)[:12]}"


def card_filename(key: str) -> str:
    """`reference_kv_<slug≤80>_<sha8>.md`: deterministic, and keys that slug
    alike (`A` and `a`) still get files of their own."""
    return f"{FILENAME_PREFIX}{slugify(key, 80)}_{sha256(key)[:8]}.md"


def compact(value: Any) -> str:
    """A value as the card and the blob hold it (and as its size is counted)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fenced(text: str, info: str = "json") -> str:
    """`text` in a code fence one backtick longer than its longest run (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _code_span(key: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", key)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if key.startswith("`") or key.endswith("`") else ""
    return f"{ticks}{pad}{key}{pad}{ticks}"


def preview(text: str, limit: int = PREVIEW_BYTES) -> str:
    """The first `limit` bytes of `text`, cut on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


@dataclass(frozen=True)
class CardFields:
    """What a candidate for one card carries (see features/kv.py)."""

    name: str
    description: str
    body: str
    metadata: dict[str, Any]
    blob: str | None  # the sha256 of a value kept as a blob, else None


def card_fields(agent_id: str, key: str, text: str, *, inline_max_bytes: int) -> CardFields:
    """A card for `key` = the compact JSON `text`: inline, or a preview of a blob.
    The heading names the key's hash: the controller's duplicate rule
    compares bodies without case or spacing, and keys `A` and `a` holding
    the same value must stay two cards."""
    size = len(text.encode("utf-8"))
    digest = sha256(text)
    blob = digest if size > inline_max_bytes else None
    heading = f"{_code_span(key)} = <!-- kv key {sha256(key)[:8]} -->"
    if blob is None:
        body = f"{heading}\n\n{fenced(text)}"
    else:
        body = f"{heading}\n\n{fenced(preview(text), 'json-preview')}\n\n(full value: kv blob {digest}, {size} bytes)"
    return CardFields(
        name=key,
        description=f"Key-value memory of agent {agent_id} (JSON, {size} bytes)",
        body=body,
        metadata={"kv_bytes": size, "kv_sha256": digest, "kv_blob": blob},
        blob=blob,
    )


@dataclass(frozen=True)
class CardValue:
    key: str
    value: Any
    updated_at: str | None
    broken: str | None = None  # why the value could not be read as JSON (then `value` is the text)


# The value after `kv_blob:` in a card's frontmatter (block or flow style, quoted or not).
_BLOB_VALUE = re.compile(r"""[ \t]*['"]?([0-9a-f]{64})\b""")


def split_card(raw: str) -> tuple[str, str]:
    """(frontmatter, body) of a card's text, without parsing its YAML."""
    body = body_of(raw)
    text = raw.removeprefix("\ufeff")
    end = text.find("\n---", 3) if text.startswith("---") else -1
    return (text[:end] if end != -1 else ""), body


def blob_in(frontmatter: str) -> str | None:
    """The blob a card names (metadata.kv_blob), read from its frontmatter text."""
    at = frontmatter.find("kv_blob:")  # a find, then one match: cheaper than a search
    found = _BLOB_VALUE.match(frontmatter, at + len("kv_blob:")) if at != -1 else None
    return found.group(1) if found else None


def fenced_text(body: str) -> str | None:
    match = _FENCE.search(body)
    return match.group(2) if match else None


def read_value(blob: str | None, body: str, blob_text: str | None) -> tuple[Any, str | None]:
    """(value, problem): the blob's JSON, else the fenced JSON. A hand edit
    that does not parse comes back as its text, with the problem named."""
    if blob is not None:
        if blob_text is None:
            return fenced_text(body) or body, f"kv blob {blob} is missing"
        text = blob_text
    else:
        found = fenced_text(body)
        if found is None:
            return body, "no ```json fence in the card"
        text = found
    return json_value(text)


def json_value(text: str) -> tuple[Any, str | None]:
    """(value, problem) of a card's JSON text: what JSON cannot answer
    (NaN, nesting past the parser's reach, a lone surrogate such as
    `"\\ud800"`) is a problem too, the value then its text."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return text, "the value is nested too deeply to read"
    except ValueError as exc:
        return text, f"the value is not valid JSON ({exc})"
    if "\\u" in text:  # only an escape makes a lone surrogate
        try:
            compact(value).encode("utf-8")
        except (UnicodeEncodeError, RecursionError, ValueError):
            return text, "the value holds a lone UTF-16 surrogate (such as \\ud800), which is not text"
    return value, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
