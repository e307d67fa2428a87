"""Profiles: agent scopes (tier workspace) in a namespace's workspace.

A profile name that is a valid agent name is the agent's name; any other
(spaces, dots, 100 characters…) becomes `p-<slug>-<sha12>`, and names of
that shape are always mapped, so two profiles can never meet in one
directory. `<root>/.agh/agents/<agent>/profile.toml` keeps the original.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from ...errors import NotFound, ValidationError
from ...model import Scope, Selector, Tier
from ...storage.files import atomic_write

_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAPPED_RE = re.compile(r"^p-.*-[0-9a-f]{12}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_profile(name: str) -> str:
    if not 1 <= len(name) <= 100 or "/" in name or _CONTROL_RE.search(name):
        raise ValidationError("profile name must be 1-100 characters, without '/' or control characters", field="profile")
    return name


def agent_of(profile: str) -> str:
    """The agent (directory) name of a profile."""
    if _AGENT_RE.fullmatch(profile) and not _MAPPED_RE.fullmatch(profile):
        return profile
    slug = re.sub(r"[^a-z0-9]+", "-", profile.lower()).strip("-")[:40].strip("-") or "x"
    return f"p-{slug}-{hashlib.sha256(profile.encode('utf-8')).hexdigest()[:12]}"


def selector(workspace_id: str, agent: str) -> Selector:
    return Selector(Scope.AGENT, workspace_id=workspace_id, agent_name=agent, agent_tier=Tier.WORKSPACE)


def profile_not_found() -> NotFound:
    return NotFound("Profile not found", cf_code=10004)


def profile_dir(root: Path, agent: str) -> Path:
    return root / ".agh" / "agents" / agent


def exists(root: Path, agent: str) -> bool:
    """Written to at least once: profile.toml, or memory files put there by hand."""
    directory = profile_dir(root, agent)
    if (directory / "profile.toml").is_file():
        return True
    memory = directory / "memory"
    return memory.is_dir() and any(p.suffix == ".md" and p.name != "MEMORY.md" for p in memory.iterdir())


def listed(root: Path) -> list[str]:
    """The agents of a namespace's profiles (those with a profile.toml)."""
    return sorted(p.parent.name for p in (root / ".agh" / "agents").glob("*/profile.toml"))


def ensure_toml(root: Path, agent: str, name: str, created_at: str) -> None:
    """profile.toml on the first write (kept when it is there)."""
    path = profile_dir(root, agent) / "profile.toml"
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, tomli_w.dumps({"name": name, "created_at": created_at}).encode("utf-8"))


def read_toml(root: Path, agent: str) -> dict[str, Any]:
    try:
        return tomllib.loads((profile_dir(root, agent) / "profile.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
