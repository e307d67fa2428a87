"""The plain frontmatter reader and writer answer only what YAML answers (issue 16).

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
from aghmem.storage.plain_yaml import plain_dump, plain_mapping

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
        "created_at: 2026-04-21T00:00:00Z\n",
        "tags: [a, b]\ntopics: []\n",
        "provenance:\n  created_at: 2026-04-21T00:00:00Z\n",
        # What the daemon writes (files.render_memory).
        "name: Prefers tabs\ndescription: in every repo\ntype: user\ntags: [style, go-lang]\nprovenance:\n"
        "  source_actor: http\n  source_sessions: [chat-2026-04-21]\n  confidence: high\n"
        "  created_at: 2026-04-21T00:00:00Z\n  updated_at: 2026-04-22T10:00:00Z\nentity: user\n",
    ):
        assert check(front), front


def test_what_yaml_reads_otherwise_is_left_to_yaml() -> None:
    for front in (
        "on: x\n",  # the key is a boolean
        "name: yes\n",
        "name: 1.5\n",
        "name: a\nname: b\n",  # repeated
        "a:\n  b: 1\n  b: 2\n",
        "name: a\n  b\n",  # continued on the next line
        "# comment\nname: a\n",
        "name: a # comment\n",
        "name: a\r\ntype: user\r\n",
        "name:\tx\n",
        'name: "caf\\u00e9"\n',  # escapes are YAML's
        "name: café\n",  # not ASCII
        "created_at: 2026-04-21T00:00:00.5Z\n",  # a fraction, an offset, a date: YAML's
        "created_at: 2026-04-21T00:00:00+02:00\n",
        "created_at: 2026-04-21\n",
        "created_at: 2026-13-45T00:00:00Z\n",
        "tags: [a, yes]\n",
        "tags: [a,b]\n",
        "tags: [1, b]\n",
        "a:\n  b:\n    c: d\n",  # deeper than one level
        "  a: b\n",
        "a:\n- b\n",
        "",
        "\n\n",
    ):
        assert plain_mapping(front) is None, front


LIST_AND_STAMP_VALUES = [
    "[]", "[a]", "[a, b]", "[a,b]", "[a , b]", "[ a ]", "[a, yes]", "[chat-1, x.y/z]", "[a b]", "[1]", "[a, [b]]", "[a,]",
    "2026-04-21T00:00:00Z", "2026-04-21T23:59:60Z", "2026-02-30T00:00:00Z", "2026-04-21t00:00:00Z", "2026-04-21T00:00:00z",
    "2026-4-21T00:00:00Z", "2026-04-21 00:00:00Z", "2026-04-21T00:00:00 Z",
]


def test_random_shapes_agree_with_yaml() -> None:
    rng = random.Random(16)
    answered = 0
    values = VALUES + LIST_AND_STAMP_VALUES
    for _ in range(12000):
        lines = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.8:  # mostly lines of the plain shape, with any value, some nested
                indent = rng.choice(["", "", "", "", "  ", "  ", " ", "    "])
                line = f"{indent}{rng.choice(KEYS[:6])}: {rng.choice(values) if rng.random() < 0.9 else ''}"
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


# --- the writer ---------------------------------------------------------------

DUMP_VALUES: list[Any] = [
    *VALUES, None, True, False, 0, 7, -3, 10**20, 1.5, "x" * 950, "word " * 200, "a\nb", "a\n", " lead", "tail ",
    "2026-04-21T00:00:00Z", "2026-04-21T00:00:00+02:00", "2026-04-21", "Ärger", "a\u00a0b", "CamelCase", "x_y",
    "see: this", "it's a (small) thing/path.md", "a - b", "a -b", "a--b", "a  b  c", "A.B", "x'", "o'clock", b"bytes",
]


def yaml_dump(mapping: dict[str, Any]) -> str:
    return yaml.dump(mapping, Dumper=files._Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000)


def check_dump(mapping: dict[str, Any]) -> bool:
    """Whether the plain writer answered (and, if so, wrote what PyYAML writes)."""
    fast = plain_dump(mapping)
    if fast is None:
        return False
    assert fast == yaml_dump(mapping), (mapping, fast, yaml_dump(mapping))
    return True


def test_the_daemons_frontmatter_is_written_without_yaml_and_as_yaml_writes_it() -> None:
    meta = files.order_meta({
        "name": "Prefers tabs", "description": "in every repo", "type": "user", "entity": "user", "attribute": "editor",
        "tags": ["style", "go-lang"],
        "provenance": {
            "source_actor": "http", "source_sessions": ["chat-2026-04-21"], "confidence": "high",
            "created_at": "2026-04-21T00:00:00Z", "updated_at": "2026-04-22T10:00:00Z",
        },
    })
    assert check_dump(meta)
    raw = files.render_memory(meta, "Uses tabs.")
    assert files.parse_memory(raw, "user_tabs.md", MemoryType.USER).meta["provenance"]["source_actor"] == "http"


def test_what_yaml_writes_otherwise_is_left_to_yaml() -> None:
    for mapping in (
        {}, {"name": "yes"}, {"name": "1.5"}, {"name": "a: b"}, {"name": "a\nb"}, {"name": "x" * 950}, {"name": 1.5},
        {"name": "café"}, {"on": "x"}, {"provenance": {}}, {"a": {"b": {"c": "d"}}}, {"tags": ["a, b"]}, {"tags": [["a"]]},
        {"tags": [{"a": "b"}]}, {"name": "trailing "}, {"k" * 70: "x"},
    ):
        assert plain_dump(mapping) is None, mapping


def test_random_frontmatter_is_written_as_yaml_writes_it() -> None:
    rng = random.Random(1616)
    answered = 0

    def value(depth: int) -> Any:
        roll = rng.random()
        if roll < 0.12 and depth < 3:
            return {rng.choice(KEYS): value(depth + 1) for _ in range(rng.randint(0, 3))}
        if roll < 0.25:
            return [rng.choice(DUMP_VALUES) if rng.random() < 0.9 else value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(DUMP_VALUES)

    for _ in range(6000):
        keys = KEYS[:6] if rng.random() < 0.7 else KEYS
        mapping = {rng.choice(keys): value(1) for _ in range(rng.randint(1, 5))}
        answered += check_dump(mapping)
    assert answered > 300
