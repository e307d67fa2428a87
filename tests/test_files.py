"""The memory file format: tolerant parsing, stable rendering, MEMORY.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from aghmem.errors import ParseError, ValidationError
from aghmem.model import MemoryType
from aghmem.storage.filenames import check_filename, make_filename
from aghmem.storage.files import atomic_write, content_hash, parse_memory, remove_stale_temp_files, render_memory
from aghmem.storage.memory_md import render_index, write_index

DESIGN_EXAMPLE = b"""---
name: Prefers concise answers
description: How this user wants replies written
type: feedback
provenance:
  source_actor: http
  source_sessions: [chat-2026-04-21]
  confidence: high
  created_at: 2026-04-21T00:00:00Z
  updated_at: 2026-04-21T00:00:00Z
---
The user prefers concise answers, with code before prose.
"""


def test_design_example_round_trips_byte_for_byte() -> None:
    parsed = parse_memory(DESIGN_EXAMPLE, "feedback_prefers_concise_answers.md", MemoryType.USER)
    assert parsed.name == "Prefers concise answers"
    assert parsed.type is MemoryType.FEEDBACK
    assert parsed.provenance["created_at"] == "2026-04-21T00:00:00Z"
    assert render_memory(parsed.meta, parsed.body) == DESIGN_EXAMPLE


def test_hand_written_file_without_frontmatter_gets_name_and_type() -> None:
    parsed = parse_memory(b"# Deploy checklist\nRun migrations first.\n", "project_deploy.md", MemoryType.USER)
    assert parsed.name == "Deploy checklist"
    assert parsed.type is MemoryType.PROJECT  # from the filename prefix


def test_hand_written_unknown_keys_are_kept() -> None:
    raw = b"---\nname: X\ntype: user\nmood: sunny\n---\nbody\n"
    parsed = parse_memory(raw, "user_x.md", MemoryType.USER)
    assert parsed.meta["mood"] == "sunny"
    assert b"mood: sunny" in render_memory(parsed.meta, parsed.body)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"---\nname: [unclosed\n---\nbody", "not valid YAML"),
        (b"---\n- a\n- b\n---\nbody", "must be a mapping"),
        (b"---\nname: x\n", "never closed"),
        (b"---\nname: x\ntype: opinion\n---\nb", "type 'opinion'"),
        (b"\xff\xfebroken", "not UTF-8"),
    ],
)
def test_broken_files_raise_a_readable_error(raw: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_memory(raw, "user_x.md", MemoryType.USER)


@pytest.mark.parametrize(
    ("written", "read"),
    [("12:30:45", "12:30:45"), ("yes", "yes"), ("2026-01-01", "2026-01-01"), (".nan", ".nan"), ("0x1F", "0x1F"), ("007", "007")],
)
def test_name_and_description_read_as_written(written: str, read: str) -> None:
    """YAML 1.1 reads `12:30:45` as 45045, `yes` as true, `0x1F` as 31: a
    person's name or description is the text they wrote."""
    parsed = parse_memory(f"---\nname: {written}\ndescription: {written}\n---\nBody.\n".encode(), "user_x.md", MemoryType.USER)
    assert (parsed.name, parsed.description) == (read, read)


def test_filenames_follow_the_slug_rule() -> None:
    assert make_filename(MemoryType.USER, entity=None, name="Prefers Concise answers!", body="") == "user_prefers_concise_answers.md"
    assert make_filename(MemoryType.PROJECT, entity="Postgres DB", name="x", body="") == "project_postgres_db.md"
    assert make_filename(MemoryType.USER, entity=None, name=None, body="one two three four five six") == "user_one_two_three_four_five.md"
    cjk = make_filename(MemoryType.USER, entity=None, name="喜欢简洁的回答", body="")
    assert cjk.startswith("user_m") and check_filename(cjk)


@pytest.mark.parametrize("bad", ["../x.md", "a/b.md", "x.txt", ".hidden.md", "a..b.md", "MEMORY.md", "x\x00.md", "", "-x.md"])
def test_bad_filenames_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_filename(bad)


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "user_x.md"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["user_x.md"]


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".user_x.md.tmp-123-abcd").write_bytes(b"half")
    (tmp_path / "user_x.md").write_bytes(b"whole")
    assert remove_stale_temp_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["user_x.md"]


def _entry(i: int, name: str = "", description: str = "") -> tuple[str, str, str]:
    return (f"user_{i}.md", name or f"Memory {i}", description)


def test_memory_index_lines_and_limits(tmp_path: Path) -> None:
    text = render_index([_entry(2, description="two"), _entry(1)])
    assert text == "- [Memory 2](user_2.md) - two\n- [Memory 1](user_1.md)\n"
    many = render_index(_entry(i) for i in range(500))
    assert many.count("\n") == 200
    long = render_index(_entry(i, description="x" * 900) for i in range(100))
    assert len(long.encode()) <= 25_000
    assert write_index(tmp_path, [_entry(1)]) is True
    assert write_index(tmp_path, [_entry(1)]) is False  # unchanged bytes are not rewritten
    assert (tmp_path / "MEMORY.md").read_text() == "- [Memory 1](user_1.md)\n"


def test_content_hash_is_sha256_of_bytes() -> None:
    import hashlib

    assert content_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
