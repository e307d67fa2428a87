"""Frontmatter in its plainest shapes, read and written without PyYAML.

Memory files open with a few `key: value` lines (`name: "…"`, `type: user`),
and the daemon's own add a `provenance` mapping of timestamps and short
lists; PyYAML, even its C loader, spends ~30-50 µs (~0.5M instructions)
building them, a large share of what a cold start pays per file.
`plain_mapping` reads exactly these shapes and nothing else: a mapping,
each line a simple key and a value that is double-quoted without escapes,
single-quoted without quotes inside, a plain word-like scalar that YAML
takes as text, a UTC timestamp (`2026-04-21T00:00:00Z`), a flow list of
plain words (`[a, b-c]`), or nothing (null, or the mapping that the lines
indented by two spaces below it make; one level). For anything else it
returns None and the caller asks YAML. Whenever it answers, the answer is
what `yaml.load` gives (tests compare the two over many shapes).

`plain_dump` is the other way: the frontmatter the daemon writes rendered
as PyYAML renders it, without PyYAML's representer (~0.5M instructions,
~5% of a write). It answers only for keys and values whose YAML is written
as they are (a plain word-like text, a timestamp, a number, a boolean,
null, a flat list of those, a mapping of them) and returns None for
anything else; the caller asks PyYAML.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_KEY = r"[A-Za-z_][A-Za-z0-9_]{0,63}"  # YAML caps a simple key at 1024 characters
_WORD = r"[A-Za-z][A-Za-z0-9_./()+-]*"  # a flow list's item
# A line: key, colon, then end of line or one space and the value. Printable
# ASCII only: YAML treats some other characters specially (U+2028 and U+0085
# break lines, control characters are refused).
_LINE_RE = re.compile(
    rf"""({_KEY}):(?:[ ]+(?:
        "([ !#-\[\]-~]*)"           # double-quoted, no escapes: 2
      | '([ -&(-~]*)'               # single-quoted, no quote inside: 3
      | ([A-Za-z][A-Za-z0-9 _.,/()'+-]*?)  # plain, starting with a letter: 4
      | (\d{{4}})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z  # a UTC timestamp: 5-10
      | \[({_WORD}(?:,[ ]{_WORD})*)\]  # a flow list of words: 11
      | (\[\])                       # an empty one: 12
    ))?[ ]*""",
    re.VERBOSE,
)
# Plain words YAML 1.1 (PyYAML's resolver) reads as booleans or null.
_NOT_TEXT = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split()
)
_NESTED = "  "  # the indentation of a nested mapping's lines


def _value(match: re.Match[str]) -> tuple[bool, Any]:
    """(whether YAML reads the line's value as this does, the value)."""
    double, single, plain, year, month, day, hour, minute, second, words = match.groups()[1:11]
    if double is not None or single is not None:
        return True, double if double is not None else single
    if plain is not None:
        return plain not in _NOT_TEXT, plain
    if year is not None:
        try:
            stamp = dt.datetime(*map(int, (year, month, day, hour, minute, second)), tzinfo=dt.timezone.utc)
        except ValueError:
            return False, None  # 2026-13-45…: YAML's to refuse
        return True, stamp
    if words is not None:
        items = words.split(", ")
        return not _NOT_TEXT.intersection(items), items
    return True, [] if match.group(12) else None


def plain_mapping(front: str) -> dict[str, Any] | None:
    """The frontmatter as a dict when it has a plain shape, else None."""
    found: dict[str, Any] = {}
    parent: str | None = None  # the key whose value was empty: its indented lines make a mapping
    for line in front.split("\n"):
        if not line.strip(" "):
            continue  # a blank line
        into = found
        if line.startswith(_NESTED):
            if parent is None or line.startswith(" ", len(_NESTED)):
                return None  # a continued value, a deeper level
            if found[parent] is None:
                found[parent] = {}
            into, line = found[parent], line[len(_NESTED):]
        else:
            parent = None
        match = _LINE_RE.fullmatch(line)
        if match is None:
            return None
        key = match.group(1)
        if key in _NOT_TEXT or key in into:
            return None  # a key YAML would not read as text; a repeated key
        plain, value = _value(match)
        if not plain:
            return None
        into[key] = value
        if into is found:
            parent = key if value is None else None
    return found if found else None


# What PyYAML writes as it is, in a block mapping (width 1,000) and in a
# flow list: ASCII, starting with a letter, none of YAML's indicators.
_PLAIN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'+-]*")
_PLAIN_ITEM = re.compile(_WORD)
_PLAIN_KEY = re.compile(_KEY)
# A timestamp the daemon writes plain, untagged (files.py's representer too).
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LONGEST_LINE = 900  # past PyYAML's width (1,000), a long text is folded over lines
_NESTING = 2  # mappings in mappings, as far as the frontmatter goes


def _scalar(value: Any, pattern: re.Pattern[str], *, stamp: bool = True) -> str | None:
    """How a value is written, if as it is; `stamp`: a timestamp is (in a
    flow list PyYAML tags and quotes it)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        if (stamp and TIMESTAMP.fullmatch(value)) or (pattern.fullmatch(value) and value not in _NOT_TEXT and not value.endswith(" ")):
            return value
    return None


def _lines(mapping: dict[Any, Any], indent: str, depth: int, out: list[str]) -> bool:
    for key, value in mapping.items():
        if type(key) is not str or not _PLAIN_KEY.fullmatch(key) or key in _NOT_TEXT:
            return False
        if type(value) is dict:
            if not value or depth >= _NESTING:
                return False
            out.append(f"{indent}{key}:\n")
            if not _lines(value, indent + "  ", depth + 1, out):
                return False
            continue
        if type(value) is list:
            # A list with a null in it is written as a block (files.py's representer).
            items = [_scalar(item, _PLAIN_ITEM, stamp=False) if item is not None else None for item in value]
            if None in items:
                return False
            text = f"[{', '.join(items)}]"  # type: ignore[arg-type]
        else:
            text = _scalar(value, _PLAIN_TEXT)  # type: ignore[assignment]
            if text is None:
                return False
        line = f"{indent}{key}: {text}\n"
        if len(line) > _LONGEST_LINE:
            return False
        out.append(line)
    return True


def plain_dump(mapping: dict[str, Any]) -> str | None:
    """The frontmatter as PyYAML's block style writes it (keys in order),
    or None when it holds anything this does not write exactly so."""
    out: list[str] = []
    if not mapping or not _lines(mapping, "", 1, out):
        return None
    return "".join(out)
