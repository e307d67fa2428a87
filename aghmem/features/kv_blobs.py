"""Content-addressed blobs for key-value values too large to sit in a card
(COMPAT.md §3.2): `HOME/kv/blobs/<sha[:2]>/<sha256>.json`, immutable,
written atomically before the decision that names them is applied (as git
writes objects before the ref). The card says which value is current; a
blob is only content, so an unreferenced one is swept after a grace period.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterable

from ..storage.files import atomic_write
from .kv_cards import sha256


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def put(self, text: str) -> str:
        """Store `text` (once: same content, same name); its sha256."""
        digest = sha256(text)
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode("utf-8"))
        return digest

    def get(self, digest: str) -> str | None:
        try:
            return self.path(digest).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def sweep(self, keep: Iterable[str], *, older_than: dt.timedelta, now: dt.datetime) -> int:
        """Delete blobs not in `keep` and not modified within `older_than`
        (a write may be about to name a fresh one); how many went."""
        kept = set(keep)
        cutoff = (now - older_than).timestamp()
        removed = 0
        for path in sorted(self.root.glob("??/*.json")) if self.root.is_dir() else []:
            digest = path.stem
            try:
                if digest in kept or path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            if not any(os.scandir(path.parent)):
                path.parent.rmdir()
        return removed
