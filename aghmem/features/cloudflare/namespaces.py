"""Namespaces: synthetic workspace roots under HOME/compat/cloudflare/<account>/<name>/.

The files are the truth: `<root>/.agh/namespace.toml` says what the
namespace is, `<root>/.agh/workspace.toml` carries its workspace id, and a
list is a walk of the account's directory. A deleted namespace's root moves
to `<account>/.deleted/<name>-<id>/` (kept for people, not for the API).

A name in `compat.cf.namespace_bindings` is bound to an existing workspace
instead: its namespace.toml (with `workspace_id` and the account that made
it) is written in that workspace's root, which is the user's and is never
moved: deleting the namespace removes only that file (and the profiles).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from ...compat_config import ACCOUNT_ID
from ...errors import Conflict, NotFound, ValidationError
from ...model import iso_utc
from ...storage.files import atomic_write

NAME_RE = re.compile(r"^[a-z0-9-]{1,32}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DELETED = ".deleted"


def not_routable(path: str) -> NotFound:
    """Cloudflare's answer for an identifier it cannot route (7003)."""
    return NotFound(f"Could not route to {path}, perhaps your object identifier is invalid?", cf_code=7003)


def namespace_not_found() -> NotFound:
    return NotFound("Namespace not found", cf_code=10003)


def check_account(account_id: str, configured: str, path: str) -> str:
    """A well-formed account id, and the configured one when there is one."""
    if not ACCOUNT_ID.fullmatch(account_id) or (configured and account_id != configured):
        raise not_routable(path)
    return account_id


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError("Invalid namespace name format", field="name", cf_code=10002, plain=True)
    return name


def ulid(now: dt.datetime) -> str:
    """26 characters of Crockford base32: 48 bits of milliseconds, 80 random."""
    number = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(frozen=True)
class Namespace:
    id: str
    name: str
    account_id: str
    created_at: str
    updated_at: str
    root: Path
    bound_to: str | None = None  # the user's workspace a bound name lives in

    @property
    def workspace_id(self) -> str:
        return self.bound_to or "ws_" + self.id.lower()

    def to_dict(self) -> dict[str, Any]:
        # `id` (seed 001) and `namespace_id` (seed 000): the same value.
        return {"id": self.id, "namespace_id": self.id, "name": self.name, "created_at": self.created_at, "updated_at": self.updated_at}


class NamespaceFiles:
    """The namespaces of every account, as directories under `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def root(self, account_id: str, name: str) -> Path:
        return self.base / account_id / name

    def read(self, account_id: str, name: str, *, root: Path | None = None, bound_to: str | None = None) -> Namespace | None:
        """The namespace whose root holds a readable namespace.toml, or None.
        A bound one (`root`, `bound_to`) is its account's only."""
        root = root or self.root(account_id, name)
        try:
            data = tomllib.loads((root / ".agh" / "namespace.toml").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        fields = [data.get(k) for k in ("id", "name", "created_at", "updated_at")]
        if not all(isinstance(v, str) for v in fields) or data.get("name") != name:
            return None
        if bound_to is not None and (data.get("account_id") != account_id or data.get("workspace_id") != bound_to):
            return None
        return Namespace(fields[0], name, account_id, fields[2], fields[3], root, bound_to)

    def list(self, account_id: str) -> list[Namespace]:
        try:
            names = sorted(os.listdir(self.base / account_id))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = (self.read(account_id, n) for n in names if NAME_RE.fullmatch(n))
        return [ns for ns in found if ns is not None]

    def create(self, account_id: str, name: str, now: dt.datetime) -> Namespace:
        """Make the root, its workspace marker and namespace.toml. A root left
        without namespace.toml (a crash mid-create) is taken over."""
        if self.read(account_id, name) is not None:
            raise Conflict("Namespace name already exists", cf_code=10008)
        root = self.root(account_id, name)
        (root / ".agh").mkdir(parents=True, exist_ok=True)
        at = iso_utc(now, ms=True)
        namespace = Namespace(ulid(now), name, account_id, at, at, root)
        atomic_write(root / ".agh" / "workspace.toml", tomli_w.dumps({"id": namespace.workspace_id}).encode("utf-8"))
        _write_toml(namespace)
        return namespace

    def create_bound(self, account_id: str, name: str, root: Path, workspace_id: str, now: dt.datetime) -> Namespace:
        """namespace.toml in a bound workspace's root (one account's at a time)."""
        if (root / ".agh" / "namespace.toml").is_file():
            raise Conflict("Namespace name already exists", cf_code=10008)
        at = iso_utc(now, ms=True)
        namespace = Namespace(ulid(now), name, account_id, at, at, root, workspace_id)
        _write_toml(namespace)
        return namespace

    def retire(self, namespace: Namespace) -> Path:
        """Move the root aside (a bound one stays: only its namespace.toml
        goes); the name is free again."""
        if namespace.bound_to is not None:
            (namespace.root / ".agh" / "namespace.toml").unlink(missing_ok=True)
            return namespace.root
        target = self.base / namespace.account_id / DELETED / f"{namespace.name}-{namespace.id}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(namespace.root, target)
        return target


def _write_toml(namespace: Namespace) -> None:
    meta = {
        "id": namespace.id, "name": namespace.name, "account_id": namespace.account_id,
        "created_at": namespace.created_at, "updated_at": namespace.updated_at,
        **({"workspace_id": namespace.bound_to} if namespace.bound_to else {}),
    }
    atomic_write(namespace.root / ".agh" / "namespace.toml", tomli_w.dumps(meta).encode("utf-8"))
