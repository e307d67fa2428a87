"""Daily logs: one line per applied decision, in the scope it changed.

`<scope dir>/_system/daily/<YYYY-MM-DD>.<seq>.md` (dates in UTC, like every
stamp aghmem writes), a new `seq` once a file would pass `daily.max_bytes`
or `daily.max_lines`. The daily sweep moves logs older than
`cold_archive_days` to `daily.archive_path`, deletes archived ones older than
`hard_delete_days` (0 = never) and keeps the archive under
`max_archive_bytes`, oldest first.

Appends are not fsynced: the decision table is the durable record, a daily
log is its human-readable digest, and an fsync per write would halve the
write path's throughput.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, TextIO

from ..config import Config
from ..errors import ConfigError, ValidationError
from ..model import Decision, Selector
from ..storage.layout import Layout, is_inside

DAILY_DIR = Path("_system") / "daily"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class _Current:
    """The file a scope's next line goes to, and how full it is."""

    date: str
    seq: int
    path: Path
    size: int
    lines: int


@dataclass
class SweepReport:
    archived: int = 0
    deleted: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"archived": self.archived, "deleted": self.deleted}


class DailyLog:
    def __init__(self, layout: Layout, config: Config) -> None:
        self.layout = layout
        self.config = config  # read on each use: a reload replaces config.daily
        self._current: dict[Path, _Current] = {}
        self._lock = threading.Lock()

    def name_pattern(self) -> re.Pattern[str]:
        fmt = self.config.daily.rotate_format
        if "{date}" not in fmt or "{seq}" not in fmt:
            raise ConfigError("daily.rotate_format must contain {date} and {seq}", field="daily.rotate_format")
        pattern = re.escape(fmt).replace(r"\{date\}", r"(?P<date>\d{4}-\d{2}-\d{2})").replace(r"\{seq\}", r"(?P<seq>\d+)")
        return re.compile(f"^{pattern}$")

    # --- appending ---------------------------------------------------------

    def record(self, decisions: Sequence[Decision]) -> None:
        """Append the lines of applied decisions (a controller listener, told
        a group commit's decisions at once): each file opened once for them."""
        handles: dict[Path, TextIO] = {}
        with self._lock:
            try:
                for decision in decisions:
                    when = decision.applied_at or decision.decided_at
                    line = _line(decision, when)
                    scope_dir = self.layout.scope_dir(decision.selector)
                    if not scope_dir.is_dir():
                        continue  # the scope's folder was deleted whole: not the log's to make again
                    directory = scope_dir / DAILY_DIR
                    current = self._target(directory, when[:10], len(line.encode("utf-8")))
                    handle = handles.get(current.path)
                    if handle is None:
                        handle = handles[current.path] = _append(directory, current)
                    if current.lines == 0:
                        header = f"# Daily log {current.date} ({decision.selector.key})\n\n"
                        handle.write(header)
                        current.size += len(header.encode("utf-8"))
                        current.lines += 2
                    handle.write(line)
                    current.size += len(line.encode("utf-8"))
                    current.lines += 1
            finally:
                for handle in handles.values():
                    handle.close()

    def _target(self, directory: Path, date: str, incoming: int) -> _Current:
        settings = self.config.daily
        current = self._current.get(directory)
        if current is None or current.date != date:
            current = self._open(directory, date)
        if current.lines and (current.size + incoming > settings.max_bytes or current.lines + 1 > settings.max_lines):
            current = self._file(directory, date, current.seq + 1)
        self._current[directory] = current
        return current

    def _open(self, directory: Path, date: str) -> _Current:
        """Today's latest file in a directory, measured once."""
        directory.mkdir(parents=True, exist_ok=True)
        pattern = self.name_pattern()
        seqs = [int(m.group("seq")) for m in map(pattern.match, (p.name for p in directory.iterdir())) if m and m.group("date") == date]
        return self._file(directory, date, max(seqs, default=1))

    def _file(self, directory: Path, date: str, seq: int) -> _Current:
        path = directory / self.config.daily.rotate_format.format(date=date, seq=seq)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        return _Current(date, seq, path, len(data), data.count(b"\n"))

    # --- reading -----------------------------------------------------------

    def list(self, selectors: list[Selector], *, date: str | None, limit: int) -> list[dict[str, Any]]:
        """Logs newest first (date, then seq), with their operation counts."""
        if date is not None and not _DATE_RE.match(date):
            raise ValidationError("date must be YYYY-MM-DD", field="date")
        pattern = self.name_pattern()
        found: list[tuple[str, int, Selector, Path]] = []
        for selector in selectors:
            directory = self.layout.scope_dir(selector) / DAILY_DIR
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                match = pattern.match(path.name)
                if match and (date is None or match.group("date") == date):
                    found.append((match.group("date"), int(match.group("seq")), selector, path))
        found.sort(key=lambda item: (item[0], item[1]), reverse=True)
        logs = []
        for day, seq, selector, path in found[:limit]:
            data = path.read_bytes()
            logs.append(
                {
                    **selector.to_dict(),
                    "date": day,
                    "seq": seq,
                    "path": str(path),
                    "bytes": len(data),
                    "operation_count": sum(1 for line in data.splitlines() if line.startswith(b"- ")),
                }
            )
        return logs

    # --- the sweep ---------------------------------------------------------

    def sweep(self, today: dt.date) -> SweepReport:
        settings = self.config.daily
        report = SweepReport()
        pattern = self.name_pattern()
        archive_before = (today - dt.timedelta(days=settings.cold_archive_days)).isoformat()
        delete_before = (today - dt.timedelta(days=settings.hard_delete_days)).isoformat() if settings.hard_delete_days > 0 else None
        for _, scope_dir in self.layout.scope_dirs():
            archive = self._archive_dir(scope_dir)
            daily = scope_dir / DAILY_DIR
            if daily.is_dir():
                for path in sorted(daily.iterdir()):
                    match = pattern.match(path.name)
                    if match and match.group("date") < archive_before:
                        archive.mkdir(parents=True, exist_ok=True)
                        shutil.move(path, archive / path.name)
                        report.archived += 1
            if archive.is_dir():
                report.deleted += self._trim_archive(archive, pattern, delete_before, settings.max_archive_bytes)
        with self._lock:
            self._current.clear()  # files may have moved
        return report

    def _archive_dir(self, scope_dir: Path) -> Path:
        archive = scope_dir / self.config.daily.archive_path
        if Path(self.config.daily.archive_path).is_absolute() or not is_inside(archive, scope_dir):
            raise ConfigError("daily.archive_path must be a folder inside the scope directory", field="daily.archive_path")
        return archive

    @staticmethod
    def _trim_archive(archive: Path, pattern: re.Pattern[str], delete_before: str | None, max_bytes: int) -> int:
        logs = sorted(
            ((m.group("date"), int(m.group("seq")), p) for p in archive.iterdir() if (m := pattern.match(p.name))),
        )
        deleted = 0
        kept = []
        for day, _, path in logs:
            if delete_before is not None and day < delete_before:
                path.unlink(missing_ok=True)
                deleted += 1
            else:
                kept.append(path)
        total = sum(p.stat().st_size for p in kept)
        for path in kept:  # oldest first
            if total <= max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            deleted += 1
        return deleted


def _append(directory: Path, current: _Current) -> TextIO:
    """The file opened to append; the log's folder made again if it was
    deleted (by hand, or with a namespace) since it was measured."""
    try:
        return open(current.path, "a", encoding="utf-8")
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        current.size = current.lines = 0  # a new file: it gets its header
        return open(current.path, "a", encoding="utf-8")


def _line(decision: Decision, when: str) -> str:
    reason = " ".join(decision.reason.split())
    reverts = f", reverts {decision.reverts}" if decision.reverts else ""
    return (
        f"- {when[11:19]}Z {decision.op.value} {decision.target_filename} "
        f"(origin {decision.origin}, decision {decision.id}{reverts}): {reason}\n"
    )
