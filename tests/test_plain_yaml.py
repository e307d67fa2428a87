"""The plain frontmatter reader answers only what YAML answers (issue 16).

`plain_mapping` skips PyYAML for flat `key: value` frontmatter. Whenever it
answers, the answer must be `yaml.load`'s, value for value and type for
type; for anything else it must step aside. Checked over hand-picked shapes
and many random ones built from YAML's traps (words that are booleans or
null, numbers, dates, indicators, quotes, escapes, comments, indentation,
tabs, CRLF, duplicates, non-ASCII line breaks).
"""

from __future__ import annotations

import random
from typing import Any

import yaml

from aghmem.model import MemoryType
from aghmem.storage import files
from aghmem.storage.plain_yaml import plain_mapping

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KEYS = ["name", "description", "type", "entity", "_x", "a1", "on", "yes", "No", "null", "y", "n", "True", "k" * 70, "tags"]
VALUES = [
    "", "user", "Prefers tabs", "yes", "No", "ON", "off", "null", "NULL", "~", "true", "y", "n", "1", "-1", "1.5",
    "1e3", ".inf", "-.inf", ".nan", "0x1F", "0o17", "1_000", "1:20", "2026-04-21", "2026-04-21T00:00:00Z", "a: b",
    "a #b", "a# b", "#c", "it's", "'single'", "'it''s'", '"quoted"', '"with \\" escape"', '"\\u00e9"', '"tab\\t"',
    '"a # b"', '"  spaced  "', "'  spaced  '", '""', "''", "- item", "[a, b]", "{a: 1}", "&anchor x", "*alias",
    "!tag x", "!!str 1", "|", ">", "@x", "`x", "%x", "a  b", "trailing  ", "café", "caf\u00e9 ok", "x\u2028y",
    "x\x85y", "x\x07y", "a, b", "(x) y", "e5", "E", "Inf", "nan", "a/b.c", "x+y-z", "='x'", "<<", "=", "?x", ":x",
    "x:", "x:y", '"unclosed', "'unclosed", '"a" b', "a'b'c", "\\back", "'\\back'", '"\\\\"', "x\ty",
]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (True is not "True")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def yaml_load(front: str) -> Any:
    try:
        return yaml.load(front, Loader=LOADER)
    except yaml.YAMLError:
        return "<error>"


def check(front: str) -> bool:
    """Whether the fast reader answered (and, if so, agreed with YAML)."""
    fast = plain_mapping(front)
    if fast is None:
        return False
    assert same(fast, yaml_load(front)), (front, fast, yaml_load(front))
    return True


def test_the_usual_shapes_are_read_without_yaml_and_as_yaml_reads_them() -> None:
    for front in (
        'name: "Prefers tabs"\ndescription: "in every repo"\ntype: user\n',
        "name: Prefers tabs\ntype: feedback\n\nentity: user\n",
        "name: 'it is: quoted'\ndescription:\ntype: project   \n",
        "name: Editor (main), since 2024/01\n",
    ):
        assert check(front), front


def test_what_yaml_reads_otherwise_is_left_to_yaml() -> None:
    for front in (
        "on: x\n",  # the key is a boolean
        "name: yes\n",
        "name: 1.5\n",
        "created_at: 2026-04-21T00:00:00Z\n",
        "name: a\nname: b\n",  # repeated
        "name: a\n  b\n",  # continued on the next line
        "# comment\nname: a\n",
        "name: a # comment\n",
        "name: a\r\ntype: user\r\n",
        "name:\tx\n",
        'name: "caf\\u00e9"\n',  # escapes are YAML's
        "name: café\n",  # not ASCII
        "provenance:\n  created_at: 2026-04-21T00:00:00Z\n",
        "tags: [a, b]\n",
        "",
        "\n\n",
    ):
        assert plain_mapping(front) is None, front


def test_random_shapes_agree_with_yaml() -> None:
    rng = random.Random(16)
    answered = 0
    for _ in range(6000):
        lines = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.8:  # mostly lines of the plain shape, with any value
                line = f"{rng.choice(KEYS[:6])}: {rng.choice(VALUES)}"
            else:
                separator = rng.choice([": ", ":  ", ":", ":\t", " : "])
                line = f"{rng.choice(KEYS)}{separator}{rng.choice(VALUES)}"
                line = rng.choice([line, " " + line, line + " ", line + "\r", "", "  ", "# c", "---", "..."])
            lines.append(line)
        answered += check("\n".join(lines) + rng.choice(["\n", "", "\n\n"]))
    assert answered > 300  # the fast path was taken often enough to mean something


def test_parse_memory_gives_the_same_memory_either_way(monkeypatch: Any) -> None:
    raw = b'---\nname: "Prefers tabs"\ndescription: "in every repo"\ntype: user\nentity: user\n---\nUses tabs.\n'
    fast = files.parse_memory(raw, "user_tabs.md", MemoryType.PROJECT)
    monkeypatch.setattr(files, "plain_mapping", lambda front: None)
    slow = files.parse_memory(raw, "user_tabs.md", MemoryType.PROJECT)
    assert same(fast.meta, slow.meta) and fast.body == slow.body
