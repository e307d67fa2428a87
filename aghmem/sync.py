"""Keeping the catalog in step with the memory files.

`Reconciler.scan_all()` walks every scope directory, compares each file's
size and mtime with the catalog, re-reads only what changed, drops entries
whose files are gone, and reports files that cannot be parsed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .catalog import Catalog
from .controller import default_type
from .errors import ParseError
from .files import is_memory_filename, parse_memory, remove_stale_temp_files, utc_now
from .layout import Layout, is_inside
from .model import Selector

Progress = Callable[[int, int], None]


@dataclass
class ScanReport:
    scopes: int = 0
    files: int = 0
    changed: int = 0
    removed: int = 0
    invalid: int = 0
    temp_files_removed: int = 0
    changed_scopes: list[Selector] = field(default_factory=list)


class Reconciler:
    def __init__(self, layout: Layout, catalog: Catalog) -> None:
        self.layout = layout
        self.catalog = catalog

    def scan_all(self) -> ScanReport:
        report = ScanReport()
        seen_keys: set[str] = set()
        for selector, directory in self.layout.scope_dirs():
            seen_keys.add(selector.key)
            self.scan_scope(selector, directory, report)
        # Scopes whose directories vanished (an agent removed, a workspace
        # unregistered) leave no entries behind.
        with self.catalog.write() as db:
            for key in set(self.catalog.scope_keys()) - seen_keys:
                report.removed += db.execute("DELETE FROM entries WHERE scope_key = ?", (key,)).rowcount
            db.execute(
                "DELETE FROM invalid_files WHERE scope_key NOT IN (%s)" % ",".join("?" * len(seen_keys)),
                tuple(seen_keys),
            )
        return report

    def scan_scope(self, selector: Selector, directory: Path, report: ScanReport) -> None:
        report.scopes += 1
        report.temp_files_removed += remove_stale_temp_files(directory)
        known = self.catalog.scope_files(selector.key)
        on_disk: dict[str, os.stat_result] = {}
        if directory.is_dir() and is_inside(directory, self.layout.trust_root(selector)):
            with os.scandir(directory) as entries:
                for item in entries:
                    if is_memory_filename(item.name) and item.is_file(follow_symlinks=False):
                        on_disk[item.name] = item.stat(follow_symlinks=False)
        report.files += len(on_disk)
        changed = False
        with self.catalog.write() as db:
            for name in set(known) - set(on_disk):
                self.catalog.delete_entry(db, selector.key, name)
                self.catalog.clear_invalid(db, str(directory / name))
                report.removed += 1
                changed = True
            for name, stat in on_disk.items():
                size, mtime_ns, _ = known.get(name, (None, None, None))
                if size == stat.st_size and mtime_ns == stat.st_mtime_ns:
                    continue
                path = directory / name
                try:
                    raw = path.read_bytes()
                    parsed = parse_memory(raw, name, default_type(selector))
                except (ParseError, OSError) as exc:
                    message = exc.message if isinstance(exc, ParseError) else str(exc)
                    self.catalog.delete_entry(db, selector.key, name)
                    self.catalog.set_invalid(db, str(path), selector.key, name, message, utc_now())
                    report.invalid += 1
                    changed = True
                    continue
                self.catalog.clear_invalid(db, str(path))
                self.catalog.upsert_entry(db, parsed.to_entry(selector, name, len(raw), stat.st_mtime_ns))
                report.changed += 1
                changed = True
        if changed:
            report.changed_scopes.append(selector)
