"""Frontmatter in its plainest shape, read without a YAML parser.

Most memory files open with a few `key: value` lines (`name: "…"`,
`type: user`); PyYAML, even its C loader, spends ~30-50 µs building them,
a large share of what a cold start pays per file. `plain_mapping` reads
exactly that shape and nothing else: one flat mapping, each line a simple
key and a value that is double-quoted without escapes, single-quoted
without quotes inside, a plain word-like scalar that YAML takes as text, or
nothing (null). For anything else it returns None and the caller asks YAML.
Whenever it answers, the answer is what `yaml.load` gives (tests compare
the two over many shapes).
"""

from __future__ import annotations

import re

_KEY = r"[A-Za-z_][A-Za-z0-9_]{0,63}"  # YAML caps a simple key at 1024 characters
# A line: key, colon, then end of line or one space and the value. Printable
# ASCII only: YAML treats some other characters specially (U+2028 and U+0085
# break lines, control characters are refused).
_LINE_RE = re.compile(
    rf"""({_KEY}):(?:[ ]+(?:
        "([ !#-\[\]-~]*)"           # double-quoted, no escapes: 2
      | '([ -&(-~]*)'               # single-quoted, no quote inside: 3
      | ([A-Za-z][A-Za-z0-9 _.,/()'+-]*?)  # plain, starting with a letter: 4
    ))?[ ]*""",
    re.VERBOSE,
)
# Plain words YAML 1.1 (PyYAML's resolver) reads as booleans or null.
_NOT_TEXT = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split()
)


def plain_mapping(front: str) -> dict[str, str | None] | None:
    """The frontmatter as a dict when it has the plain shape, else None."""
    found: dict[str, str | None] = {}
    for line in front.split("\n"):
        if not line.strip(" "):
            continue  # a blank line
        match = _LINE_RE.fullmatch(line)
        if match is None:
            return None
        key, double, single, plain = match.groups()
        if key in _NOT_TEXT or key in found:
            return None  # a key YAML would not read as text; a repeated key
        if plain is not None and plain in _NOT_TEXT:
            return None
        found[key] = double if double is not None else single if single is not None else plain
    return found if found else None
