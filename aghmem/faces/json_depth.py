"""How deeply a request's JSON may nest.

json.loads takes nesting up to about Python's recursion limit (~1000), but
the code after it recurses too (YAML for a memory or a configuration, the
ledger's json.dumps, pydantic), with frames of its own, so a body the parser
took could still fail later with RecursionError: a 500, after work had
begun. Every face checks right after parsing, so such a body is refused in
its own envelope before anything runs.
"""

from __future__ import annotations

from typing import Any

# Levels of arrays and objects a request may nest: far more than any real
# memory, event or configuration uses, and far below where a renderer's
# recursion could run out of stack.
MAX_JSON_DEPTH = 64


def nested_too_deeply(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `data` nests arrays and objects more than `limit` levels
    (`{}` is one level). Iterative: the check itself costs no stack."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
