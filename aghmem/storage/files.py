"""Memory files on disk: parse, render, write atomically, and MEMORY.md.

Parsing is tolerant (hand-written files with missing or unknown keys are
accepted, unknown keys kept); rendering is deterministic so that the same
memory always produces the same bytes, and so the same content hash.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from ..errors import ParseError, TooLarge
from ..model import CF_TYPES, Entry, MemoryType, Selector, iso_utc
from .plain_yaml import TIMESTAMP, plain_dump, plain_mapping

# Keys in the order they are written; unknown keys (hand-written) follow.
KNOWN_KEYS = (
    "name",
    "description",
    "type",
    "scope",
    "agent",
    "agent_tier",
    "entity",
    "attribute",
    "valid_from",
    "superseded_by",
    "tags",
    "metadata",
    "provenance",
)
PROVENANCE_KEYS = ("source_actor", "source_sessions", "confidence", "superseded_by", "created_at", "updated_at")

_YAML = YAMLHandler()
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def canonical_body(body: str) -> str:
    """Lowercase, whitespace collapsed: what "exact duplicate" compares."""
    return " ".join(body.lower().split())


def body_hash(body: str) -> str:
    return hashlib.sha256(canonical_body(body).encode("utf-8")).hexdigest()


def utc_now() -> str:
    return format_time(dt.datetime.now(dt.timezone.utc))


def format_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return iso_utc(moment)


def body_of(raw: str) -> str:
    """The markdown body of a file's text, without parsing the YAML."""
    if raw.startswith("\ufeff"):
        raw = raw[1:]
    if raw.startswith("---"):
        end = raw.find("\n---", 3)
        if end != -1:
            after = raw.find("\n", end + 4)
            return raw[after + 1 :].strip("\n") if after != -1 else ""
    return raw.strip("\n")


# --- parsing ---------------------------------------------------------------


@dataclass
class ParsedMemory:
    meta: dict[str, Any]
    body: str
    raw: bytes

    @property
    def content_hash(self) -> str:
        return content_hash(self.raw)

    @property
    def type(self) -> MemoryType:
        return MemoryType(self.meta["type"])

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def description(self) -> str:
        return str(self.meta.get("description") or "")

    @property
    def provenance(self) -> dict[str, Any]:
        value = self.meta.get("provenance")
        return value if isinstance(value, dict) else {}

    def to_entry(self, selector: Selector, filename: str, size: int, mtime_ns: int) -> Entry:
        provenance = self.provenance
        return Entry(
            selector=selector,
            filename=filename,
            type=self.type,
            name=self.name,
            description=self.description,
            content_hash=self.content_hash,
            body_hash=body_hash(self.body),
            size=size,
            mtime_ns=mtime_ns,
            created_at=_opt_str(provenance.get("created_at")),
            updated_at=_opt_str(provenance.get("updated_at")),
            entity=_opt_str(self.meta.get("entity")),
            attribute=_opt_str(self.meta.get("attribute")),
            superseded_by=_opt_str(self.meta.get("superseded_by") or provenance.get("superseded_by")),
            raw=self.raw.decode("utf-8"),
            source_session=_first_session(provenance),
            cf_type=_cf_type(self.meta),
        )


def _first_session(provenance: dict[str, Any]) -> str | None:
    sessions = provenance.get("source_sessions")
    return _opt_str(sessions[0]) if isinstance(sessions, list) and sessions else None


def _cf_type(meta: dict[str, Any]) -> str | None:
    metadata = meta.get("metadata")
    value = metadata.get("cf_type") if isinstance(metadata, dict) else None
    return value if value in CF_TYPES else None


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _normalise(value: Any) -> Any:
    """YAML turns timestamps into datetimes; keep them as ISO strings (one
    that leaves the calendar once in UTC makes the file invalid). A
    non-finite number (`.inf`, `.nan`) stays the text it was: JSON cannot
    carry it, and one in a decision would break every listing."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dt.datetime):
        try:
            return format_time(value)
        except OverflowError:  # year 1 at +14:00 is year 0 in UTC
            raise ParseError(f"date {value.isoformat()} is out of range (years 1 to 9999 in UTC)") from None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _guess_name(body: str, filename: str) -> str:
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            heading = stripped.lstrip("#").strip()
            if heading:
                return heading
    stem = filename[:-3] if filename.endswith(".md") else filename
    prefix, _, rest = stem.partition("_")
    if prefix in {t.value for t in MemoryType} and rest:
        stem = rest
    return stem.replace("_", " ").replace("-", " ").strip() or filename


def parse_memory(raw: bytes, filename: str, default_type: MemoryType) -> ParsedMemory:
    """Parse a memory file, tolerating what people write by hand.

    A missing `name` comes from the first heading or the filename; a missing
    `type` from the filename's prefix, else `default_type`. What cannot be
    understood (bad UTF-8, bad YAML, frontmatter that is not a mapping, an
    unknown type) raises ParseError with a message a person can act on.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    meta: Any = {}
    body = text
    if _YAML.detect(text):
        try:
            front, body = _YAML.split(text)
            meta = _as_written(_load_yaml(front), front) if front.strip() else {}
        except ValueError:
            raise ParseError("frontmatter opened with '---' but never closed") from None
        except yaml.YAMLError as exc:
            raise ParseError(f"frontmatter is not valid YAML: {_yaml_problem(exc)}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ParseError(f"frontmatter must be a mapping of keys, not a {type(meta).__name__}")
    meta = _normalise(meta)
    body = body.strip("\n")

    if not meta.get("name"):
        meta["name"] = _guess_name(body, filename)
    elif not isinstance(meta["name"], (str, int, float)):
        raise ParseError("name must be text")
    raw_type = meta.get("type")
    if raw_type in (None, ""):
        prefix = filename.partition("_")[0]
        meta["type"] = prefix if prefix in {t.value for t in MemoryType} else default_type.value
    elif raw_type not in {t.value for t in MemoryType}:
        raise ParseError(f"type {raw_type!r} is not one of user, feedback, project, reference")
    return ParsedMemory(meta=meta, body=body, raw=raw)


TEXT_KEYS = ("name", "description")


def _as_written(meta: Any, front: str) -> Any:
    """`name` and `description` as the person wrote them: YAML 1.1 reads
    `12:30:45` as 45045, `yes` as true, `0x1F` as 31. Only when one came
    back as something else than text is the frontmatter read again, every
    scalar as its text (aliases were refused by the first read)."""
    if not isinstance(meta, dict) or all(isinstance(meta.get(key), (str, type(None))) for key in TEXT_KEYS):
        return meta
    written = yaml.load(front, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader makes only str, list, dict
    for key in TEXT_KEYS:
        if not isinstance(meta.get(key), (str, type(None))) and isinstance(written.get(key), str):
            meta[key] = written[key]
    return meta


def _load_yaml(front: str) -> Any:
    """The frontmatter's YAML, aliases refused: 405 bytes of nested aliases
    (7 levels of 10) expand to 10^7 list items (3.5 s, 270 MB per parse).
    The plain shapes (plain_yaml.py) are read without YAML."""
    plain = plain_mapping(front)
    if plain is not None:
        return plain
    if "*" in front and any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(front, Loader=_LOADER)):
        raise ParseError("frontmatter uses YAML aliases (*name); write the values out")
    return yaml.load(front, Loader=_LOADER)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        # +2: the opening '---' line, and 1-based lines.
        return f"{problem} (line {mark.line + 2}, column {mark.column + 1})"
    return str(problem)


# --- rendering -------------------------------------------------------------


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes ISO timestamps plain (`created_at: 2026-04-21T00:00:00Z`)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if TIMESTAMP.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:timestamp", value)
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    # Short lists of scalars read best inline: `tags: [a, b]`.
    flow = all(isinstance(item, (str, int, float, bool)) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def order_meta(meta: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: meta[key] for key in KNOWN_KEYS if meta.get(key) not in (None, "", [], {})}
    if isinstance(ordered.get("provenance"), dict):
        prov = ordered["provenance"]
        ordered["provenance"] = {
            **{k: prov[k] for k in PROVENANCE_KEYS if prov.get(k) not in (None, "", [])},
            **{k: v for k, v in prov.items() if k not in PROVENANCE_KEYS},
        }
    ordered.update({k: v for k, v in meta.items() if k not in KNOWN_KEYS})
    return ordered


def render_memory(meta: dict[str, Any], body: str) -> bytes:
    ordered = order_meta(meta)
    front = plain_dump(ordered) or yaml.dump(
        ordered,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000,
    )
    return f"---\n{front}---\n{body.strip(chr(10))}\n".encode("utf-8")


def check_size(raw: bytes, *, max_bytes: int, max_lines: int) -> None:
    lines = raw.count(b"\n")
    if len(raw) > max_bytes or lines > max_lines:
        raise TooLarge(
            f"memory file would be {len(raw)} bytes / {lines} lines; the limit is {max_bytes} bytes / {max_lines} lines",
            size=len(raw),
            lines=lines,
            max_bytes=max_bytes,
            max_lines=max_lines,
        )


# --- writing ---------------------------------------------------------------


def atomic_write(
    path: Path, data: bytes, *, durable: bool = True, tmp_dir: Path | None = None, sync_dir: bool = True
) -> None:
    """Write `data` to `path` so that readers see the old or the new file,
    never a part of one: temp file, fsync, rename, fsync the directory.
    `sync_dir=False` leaves the last step to the caller (a group commit
    fsyncs a directory once for several renames).

    The temp file goes in `tmp_dir` when given (an unwatched directory on the
    same filesystem, so a watcher sees one rename instead of a create, a
    close and a rename), else beside `path` as `.name.tmp-…`, a name scans
    skip. A `tmp_dir` on another filesystem falls back to the latter.
    """
    where = tmp_dir if tmp_dir is not None else path.parent
    tmp = where / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.EXDEV and tmp_dir is not None:
            atomic_write(path, data, durable=durable, sync_dir=sync_dir)
            return
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temp_files(directory: Path, *, older_than: float | None = None) -> int:
    """Delete temp files a crash left behind. `older_than` (seconds) spares
    recent ones: outside start-up a write may be using one right now."""
    removed = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    cutoff = time.time() - older_than if older_than is not None else None
    for name in names:
        if ".tmp-" in name and name.startswith("."):
            path = directory / name
            try:
                if cutoff is not None and path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
    return removed
