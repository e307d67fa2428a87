"""The extractor's dead-letter folder: inbox files whose candidates could
not all be sent, each beside an `.error.json` saying why.

A failure is named `<session>__<job>` (job names have no `__`; session ids
may). Listing reads the error file and the first line of the inbox file
(which names the session's workspace); `take_back` moves files back into
the inbox for the worker to process again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from pathlib import Path
from typing import Any

from ...model import iso_utc
from ...storage.files import atomic_write

log = logging.getLogger("aghmem.extractor")


class DeadLetters:
    def __init__(self, directory: Path, inbox: Path) -> None:
        self.directory = directory
        self.inbox = inbox

    def count(self) -> int:
        return len(list(self.directory.glob("*.jsonl"))) if self.directory.is_dir() else 0

    def record(self, claimed: Path, exc: Exception, at: str) -> Path:
        """Move a claimed inbox file here, with why it failed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{claimed.parent.name}__{claimed.name.removesuffix('.claimed')}"
        target = self.directory / name
        claimed.replace(target)
        error = {
            "id": name.removesuffix(".jsonl"), "session_id": claimed.parent.name, "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(exc)), "failed_at": at,
        }
        atomic_write(target.with_suffix(".error.json"), json.dumps(error, indent=2).encode("utf-8"), durable=False)
        log.error("extractor: %s failed (%s); moved to %s", claimed.name, error["error"], target)
        return target

    def list(self, *, session_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Failures oldest first: seed 004's fields, then the error's detail."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.glob("*.jsonl")):
            failure = _failure(path)
            if session_id is not None and failure["session_id"] != session_id:
                continue
            out.append(failure)
            if limit is not None and len(out) >= limit:
                break
        return out

    def take_back(self, ids: list[str] | None) -> tuple[list[Path], list[str]]:
        """Move failures (all, or `ids`) back into the inbox: the files to
        process, and the ids asked for that could not be taken back (unknown,
        or gone since)."""
        failures = {f["id"]: f for f in self.list()}
        wanted = list(failures) if ids is None else list(dict.fromkeys(ids))
        moved, missed = [], []
        for failure_id in wanted:
            failure = failures.get(failure_id)
            if failure is None:
                missed.append(failure_id)
                continue
            source = Path(failure["path"])
            session, _, job_name = source.name.rpartition("__")
            directory = self.inbox / session
            directory.mkdir(parents=True, exist_ok=True)
            try:
                source.replace(directory / job_name)
            except FileNotFoundError:
                missed.append(failure_id)
                continue
            source.with_suffix(".error.json").unlink(missing_ok=True)
            moved.append(directory / job_name)
        return moved, missed


def _failure(path: Path) -> dict[str, Any]:
    try:
        error = json.loads(path.with_suffix(".error.json").read_text())
    except (OSError, ValueError):
        error = {}
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    first = _first_line(lines)
    reason = error.get("error") or "unknown (no error file)"
    return {
        "id": error.get("id") or path.stem,
        "session_id": error.get("session_id") or first.get("session_id") or path.stem.rpartition("__")[0],
        "workspace_id": first.get("workspace_id"),
        "agent_name": first.get("agent_name"),
        "path": str(path),
        "reason": reason,
        "created_at": error.get("failed_at") or _mtime_stamp(path),
        # the older names of reason and created_at, and the candidates it holds
        "error": reason,
        "failed_at": error.get("failed_at"),
        "candidate_count": len(lines),
    }


def _first_line(lines: list[str]) -> dict[str, Any]:
    try:
        first = json.loads(lines[0]) if lines else {}
    except ValueError:
        return {}
    return first if isinstance(first, dict) else {}


def _mtime_stamp(path: Path) -> str:
    return iso_utc(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc))
