"""The entries of one slot entity with their texts, in one or many scopes:
the lookup behind key-value reads (COMPAT §3, entity `kv`), which answer
from the catalog instead of opening each card file. One SQL statement on
the `entries_slot` index: an exact scope, or a range of scope keys.
"""

from __future__ import annotations

from .catalog import Catalog

# (scope_key, filename, attribute, updated_at, mtime_ns, raw)
SlotText = tuple[str, str, str | None, str | None, int, str]


def slot_texts(catalog: Catalog, entity: str, scope_key: str, *, prefix: bool = False) -> list[SlotText]:
    """Every entry of `entity` in one scope (or, `prefix`, in every scope
    whose key starts with `scope_key`), by scope and filename."""
    if prefix:  # the keys from `scope_key` up to (not with) its successor
        where, bounds = "e.scope_key >= ? AND e.scope_key < ?", (scope_key, scope_key[:-1] + chr(ord(scope_key[-1]) + 1))
    else:
        where, bounds = "e.scope_key = ?", (scope_key,)
    return catalog.db.execute(
        "SELECT e.scope_key, e.filename, e.attribute, e.updated_at, e.mtime_ns, t.raw "
        f"FROM entries e INDEXED BY entries_slot JOIN texts t ON t.id = e.id WHERE {where} "
        "AND e.entity = ? AND e.entity IS NOT NULL ORDER BY e.scope_key, e.filename",
        (*bounds, entity),
    ).fetchall()
