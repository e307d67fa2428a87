"""Settings of the compatibility surfaces: `[compat.cf]`, `[compat.cfg]`,
`[compat.kv]` in config.toml (COMPAT.md §0.4).

Each surface writes through the controller under its own origin
(`compat-cf`, `compat-cfg`, `compat-kv`) with its own rate limit, and may
accept its own bearer tokens, valid on that surface only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ConfigError

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*\d+(?:\.\d+)?\s*(ms|s|m|h|d)\s*$")


@dataclass
class CfConfig:
    """Cloudflare Agent Memory (seeds 000/001) under /client/v4."""

    enabled: bool = True
    root: str = "compat/cloudflare"  # under HOME
    tokens: list[str] = field(default_factory=list)
    account_id: str = ""  # "": any account id (namespaces partitioned per id)
    strict_profiles: bool = False
    answer: str = "auto"  # extractive | llm | auto
    ingest_wait: str = "10s"
    max_ingest_bytes: int = 17_825_792
    max_writes_per_min: int = 600
    recall_inherit: list[str] = field(default_factory=list)  # "workspace", "global"
    summary_max_chars: int = 6000
    namespace_bindings: dict[str, str] = field(default_factory=dict)  # name → ws_ id


@dataclass
class CfgConfig:
    """Memory configurations (seed 002) under /api/v0/memories."""

    enabled: bool = True
    root: str = "compat/configs"  # under HOME
    default_project: str = "default"
    tokens: list[str] = field(default_factory=list)
    max_writes_per_min: int = 600
    bindings: dict[str, str] = field(default_factory=dict)  # scope pattern → "project/id"


@dataclass
class KvConfig:
    """Key-value agent memory (seed 003) on /api/memory by `agentId`."""

    enabled: bool = True
    tokens: list[str] = field(default_factory=list)
    auto_create_agents: bool = True
    max_keys: int = 50
    max_value_bytes: int = 102_400
    inline_max_bytes: int = 16_384
    max_body_bytes: int = 5_767_168
    blob_root: str = "kv/blobs"  # under HOME
    blob_grace_days: int = 90
    max_writes_per_min: int = 600


@dataclass
class CompatConfig:
    cf: CfConfig = field(default_factory=CfConfig)
    cfg: CfgConfig = field(default_factory=CfgConfig)
    kv: KvConfig = field(default_factory=KvConfig)

    def surface_of_origin(self, origin: str) -> CfConfig | CfgConfig | KvConfig | None:
        """The surface whose writes carry `origin` ('compat-kv' → kv)."""
        name = origin.removeprefix("compat-") if origin.startswith("compat-") else ""
        return getattr(self, name, None) if name in ("cf", "cfg", "kv") else None


def validate_compat(compat: CompatConfig) -> None:
    cf, cfg, kv = compat.cf, compat.cfg, compat.kv
    if cf.answer not in ("extractive", "llm", "auto"):
        raise ConfigError("compat.cf.answer must be extractive, llm or auto")
    if not _DURATION.fullmatch(cf.ingest_wait):
        raise ConfigError(f"config key compat.cf.ingest_wait: not a duration: {cf.ingest_wait!r}")
    if cf.account_id and not ACCOUNT_ID.fullmatch(cf.account_id):
        raise ConfigError("compat.cf.account_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ (or be empty: any)")
    if unknown := set(cf.recall_inherit) - {"workspace", "global"}:
        raise ConfigError(f"compat.cf.recall_inherit takes workspace and global, not {sorted(unknown)}")
    for path, number in (
        ("compat.cf.max_ingest_bytes", cf.max_ingest_bytes),
        ("compat.cf.summary_max_chars", cf.summary_max_chars),
        ("compat.kv.max_keys", kv.max_keys),
        ("compat.kv.max_value_bytes", kv.max_value_bytes),
        ("compat.kv.inline_max_bytes", kv.inline_max_bytes),
        ("compat.kv.max_body_bytes", kv.max_body_bytes),
    ):
        if number < 1:
            raise ConfigError(f"{path} must be at least 1")
    for path, number in (
        ("compat.cf.max_writes_per_min", cf.max_writes_per_min),
        ("compat.cfg.max_writes_per_min", cfg.max_writes_per_min),
        ("compat.kv.max_writes_per_min", kv.max_writes_per_min),
        ("compat.kv.blob_grace_days", kv.blob_grace_days),
    ):
        if number < 0:
            raise ConfigError(f"{path} must be at least 0 (0: no limit)")
    for surface in (cf, cfg, kv):
        if any(not token for token in surface.tokens):
            raise ConfigError("compat.*.tokens must not hold an empty token")
