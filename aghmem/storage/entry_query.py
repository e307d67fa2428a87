"""A scope's entries filtered by source session and CF type, newest first
(COMPAT N6): the lookup behind the CF face's memory list and session
delete. One SQL statement over the catalog's derived columns
(`source_session`, `cf_type`, `created_sort`), keyset-paged on
(created_sort desc, id), so a page costs the same wherever it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Entry
from .catalog import ENTRY_COLUMNS, ENTRY_FROM, Catalog, entry_of_row

Keyset = tuple[str, str]  # (created_sort, id) of a page's last entry


@dataclass(frozen=True)
class EntryQuery:
    scope_key: str
    source_session: str | None = None
    # Entries whose metadata.cf_type is this; or, without a valid one, whose
    # native type is among `fallback_types` (the read-back rule).
    cf_type: str | None = None
    fallback_types: tuple[str, ...] = ()
    limit: int = 20
    after: Keyset | None = None
    include_system: bool = False


def entries_by(catalog: Catalog, query: EntryQuery) -> tuple[list[Entry], Keyset | None]:
    """One page of entries and the keyset of its last one when more follow."""
    where = ["e.scope_key = ?"]
    params: list[Any] = [query.scope_key]
    if query.source_session is not None:
        where.append("e.source_session = ?")
        params.append(query.source_session)
    if query.cf_type is not None:
        natives = ",".join("?" * len(query.fallback_types)) or "NULL"
        where.append(f"(e.cf_type = ? OR (e.cf_type IS NULL AND e.type IN ({natives})))")
        params += [query.cf_type, *query.fallback_types]
    if not query.include_system:
        where.append("e.filename NOT LIKE '\\_system%' ESCAPE '\\'")
    if query.after is not None:
        where.append("(e.created_sort < ? OR (e.created_sort = ? AND e.id > ?))")
        params += [query.after[0], query.after[0], query.after[1]]
    rows = catalog.db.execute(
        f"SELECT {ENTRY_COLUMNS}, e.created_sort FROM {ENTRY_FROM} WHERE {' AND '.join(where)} "
        "ORDER BY e.created_sort DESC, e.id LIMIT ?",
        (*params, query.limit + 1),
    ).fetchall()
    entries = [entry_of_row(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return entries, ((rows[query.limit - 1][-1], entries[-1].id) if more and entries else None)


def ids_mentioning(catalog: Catalog, scope_key: str, needle: str) -> list[str]:
    """The ids of a scope's entries whose file text contains `needle` (a
    cheap first cut; the caller parses these few to be sure)."""
    rows = catalog.db.execute(
        "SELECT e.id FROM entries e JOIN texts t ON t.id = e.id WHERE e.scope_key = ? AND instr(t.raw, ?) > 0 ORDER BY e.id",
        (scope_key, needle),
    ).fetchall()
    return [row[0] for row in rows]
