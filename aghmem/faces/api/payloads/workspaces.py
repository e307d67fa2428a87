"""Payloads about workspaces: which one holds a path."""

from __future__ import annotations

import os
from typing import Any, Mapping

from ....errors import ValidationError
from .fields import check_fields, text

MAX_PATH = 4_096


def resolve_path(query: Mapping[str, Any]) -> str:
    """`GET /api/workspaces/resolve?path=…`: an absolute path (the caller's
    current directory; the daemon's own would mean nothing)."""
    check_fields(query, frozenset({"path"}))
    path = text(query, "path", limit=MAX_PATH, one_line=True)
    if not path:
        raise ValidationError("path is required: the absolute path of a directory, e.g. ?path=/home/me/project", field="path")
    if not os.path.isabs(path):
        raise ValidationError("path must be absolute", field="path", path=path)
    return path
