"""Seed 004, the native API's reference, read as data.

The seed is a flattened API reference page. Each route is a run of lines:
the path template with its parameter notes (`/api/memory/{filename}Path
Parameters`, absent for a route without parameters), then one line

    curl -X METHOD "https://example.com/PATH" [\\ -H … \\ -d '{request}']{

that ends where the route's first example body begins: the success body,
then one error envelope per documented error status, all concatenated
(`}{`). `routes()` gives, per route: method, path template, the request
example (if any) and the success example.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A copy of the shared seed, so that a fresh clone (CI) can read it;
# test_seed_contract checks it is still the shared one where that is at hand.
SEED = Path(__file__).parent / "data" / "seed_004_api_reference.txt"
SHARED = next(Path("/work/shared/seeds").glob("004_*.txt"), None) if Path("/work/shared/seeds").is_dir() else None

_CURL = re.compile(r"""curl -X (?P<method>[A-Z]+) "https://example\.com(?P<path>[^"]*)"(?P<rest>[^\n]*)""")
_REQUEST = re.compile(r"""-d '(?P<body>[^']*)'""")
_TEMPLATE = re.compile(r"(?P<path>/api/[^\s]*?)(?:Query Parameters|Path Parameters|Request Body|Response Body|$)", re.M)
_ERROR_KEYS = {"code", "details", "message"}


@dataclass(frozen=True)
class SeedRoute:
    method: str
    template: str  # /api/memory/decisions/{decision_id}
    request: dict[str, Any] | None  # the curl example's -d body
    success: dict[str, Any]  # the first example body
    errors: int  # how many error envelopes follow it

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def routes(text: str | None = None) -> list[SeedRoute]:
    if text is None:
        text = SEED.read_text()
    found: list[SeedRoute] = []
    previous_end = 0
    for curl in _CURL.finditer(text):
        # The route's template is the last /api line since the previous route.
        templates = list(_TEMPLATE.finditer(text, previous_end, curl.start()))
        template = templates[-1]["path"] if templates else curl["path"]
        request = _REQUEST.search(curl["rest"])
        bodies, end = _bodies(text, curl.end() - 1 if curl["rest"].endswith("{") else curl.end())
        previous_end = end
        found.append(
            SeedRoute(
                method=curl["method"],
                template=template,
                request=json.loads(request["body"]) if request else None,
                success=bodies[0],
                errors=sum(1 for b in bodies[1:] if set(b) == _ERROR_KEYS),
            )
        )
    return found


def _bodies(text: str, start: int) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects concatenated from `start`, and where they end."""
    decoder = json.JSONDecoder()
    bodies = []
    position = start
    while position < len(text) and text[position] == "{":
        body, position = decoder.raw_decode(text, position)
        bodies.append(body)
    assert bodies, f"no example body at offset {start}"
    return bodies, position


# --- comparing an answer with an example ----------------------------------------

_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_FREE_MAP = {"property1", "property2"}  # how the seed spells "any keys"


def mismatches(example: Any, actual: Any, nullable: frozenset[str], path: str = "$") -> list[str]:
    """Where `actual` lacks a key of `example` or holds another JSON type.

    Extra keys are fine. A list's items are checked against the example's
    first item (an empty list has nothing to check). A string example shaped
    like a date-time wants a date-time. `null` stands for "absent" only under
    a key named in `nullable` (`key`, or `parent.key` with list indices
    dropped); the seed's own `null` (a free map's values) accepts anything."""
    if example is None:
        return []
    if actual is None:
        names = re.sub(r"\[\d+\]", "", path).split(".")
        allowed = names[-1] in nullable or ".".join(names[-2:]) in nullable
        return [] if allowed else [f"{path}: null, the seed shows {type(example).__name__}"]
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {type(actual).__name__}, the seed shows an object"]
        if set(example) == _FREE_MAP:
            return [m for k, v in actual.items() for m in mismatches(example["property1"], v, nullable, f"{path}.{k}")]
        found = []
        for key, value in example.items():
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += mismatches(value, actual[key], nullable, f"{path}.{key}")
        return found
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{path}: {type(actual).__name__}, the seed shows an array"]
        if not example:
            return []
        return [m for i, item in enumerate(actual) for m in mismatches(example[0], item, nullable, f"{path}[{i}]")]
    return _scalar(example, actual, path)


def _scalar(example: Any, actual: Any, path: str) -> list[str]:
    if isinstance(example, bool):
        ok = isinstance(actual, bool)
    elif isinstance(example, int):
        ok = isinstance(actual, int) and not isinstance(actual, bool)
    elif isinstance(example, float):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
    else:
        ok = isinstance(actual, str) and (not _STAMP.match(example) or bool(_STAMP.match(actual)))
    return [] if ok else [f"{path}: {actual!r} where the seed shows {example!r}"]


def empty_lists(example: Any, actual: Any) -> set[str]:
    """Paths (list indices as `[]`) where the seed shows a list item and
    every list the answer has there is empty: nothing of the item's shape
    was checked."""
    seen: dict[str, bool] = {}
    _lists(example, actual, "$", seen)
    return {path for path, filled in seen.items() if not filled}


def _lists(example: Any, actual: Any, path: str, seen: dict[str, bool]) -> None:
    if isinstance(example, dict) and isinstance(actual, dict) and set(example) != _FREE_MAP:
        for key, value in example.items():
            if key in actual:
                _lists(value, actual[key], f"{path}.{key}", seen)
    elif isinstance(example, list) and isinstance(actual, list) and example:
        seen[path] = seen.get(path, False) or bool(actual)
        for item in actual:
            _lists(example[0], item, f"{path}[]", seen)
