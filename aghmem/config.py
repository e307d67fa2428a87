"""Settings: embedded defaults, overlaid by `config.toml` and the environment.

The TOML tables mirror `GET /api/memory/config` (DESIGN §11). An unknown key
or a value of the wrong type stops the daemon at start with the key's path,
rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compat_config import CompatConfig, validate_compat
from .errors import ConfigError
from .overlay import overlay

DEFAULT_PORT = 7377
DEFAULT_ORIGINS = ["http", "cli", "mcp", "extractor", "dreaming", "promote", "revert", "file", "compat-cf", "compat-cfg", "compat-kv"]
AUTONOMOUS_ORIGINS = frozenset({"extractor", "dreaming"})


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str = ""
    allow_origins: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    max_body_bytes: int = 1_048_576
    # A request's headers must arrive within this of its first byte.
    header_timeout: str = "10s"


@dataclass
class PolicyConfig:
    allow_origins: list[str] = field(default_factory=lambda: list(DEFAULT_ORIGINS))
    max_content_chars: int = 20_000
    max_writes_per_min: int = 120


@dataclass
class ControllerLLMConfig:
    enabled: bool = False
    model: str = ""
    prompt_version: str = "controller-v1"
    timeout: str = "10s"
    top_k: int = 5
    max_tokens_out: int = 512


@dataclass
class ControllerConfig:
    mode: str = "rules"
    default_op_on_fail: str = "noop"
    max_latency: str = "2s"
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    llm: ControllerLLMConfig = field(default_factory=ControllerLLMConfig)


@dataclass
class PrivacyPolicyConfig:
    redact_patterns: list[str] = field(default_factory=list)
    default_redaction_string: str = "[REDACTED]"
    non_persistable_message_types: list[str] = field(default_factory=list)


@dataclass
class RecallWeights:
    bm25_unicode: float = 0.55
    bm25_trigram: float = 0.20
    recency: float = 0.15
    recall_signal: float = 0.10


@dataclass
class RecallFreshness:
    banner_after_days: int = 30


@dataclass
class RecallSignals:
    metrics_enabled: bool = True
    queue_capacity: int = 1024
    worker_retry_max: int = 3


@dataclass
class RecallConfig:
    top_k: int = 5
    raw_candidates: int = 50
    fusion: str = "weighted"
    include_already_surfaced: bool = False
    include_system: bool = False
    trigram_terms: int = 16
    # The relevance floor (aghmem.relevance), as IDF-weighted shares of the
    # query's terms: recall answers only when its best memory holds
    # `min_evidence`, then keeps each memory that holds `min_evidence_each`.
    # 0 turns the floor off.
    min_evidence: float = 0.17
    min_evidence_each: float = 0.05
    # Bytes of entry text (title, body, banner, why) in a recall package; past it entries
    # are cut or omitted, and the package says so.
    max_package_bytes: int = 16_384
    weights: RecallWeights = field(default_factory=RecallWeights)
    freshness: RecallFreshness = field(default_factory=RecallFreshness)
    signals: RecallSignals = field(default_factory=RecallSignals)


@dataclass
class IndexConfig:
    reconcile_interval: str = "5m"
    debounce: str = "20ms"
    commit_interval: str = "500ms"
    commit_batch: int = 256


@dataclass
class DreamGates:
    min_recall_count: int = 2
    min_score: float = 0.75
    min_unpromoted: int = 5
    min_distinct_queries: int = 2


@dataclass
class DreamScoringWeights:
    frequency: float = 0.30
    relevance: float = 0.35
    recency: float = 0.20
    freshness: float = 0.15


@dataclass
class DreamScoring:
    recency_half_life_days: int = 14
    weights: DreamScoringWeights = field(default_factory=DreamScoringWeights)


@dataclass
class DreamConfig:
    enabled: bool = True
    agent: str = ""
    check_interval: str = "30m"
    debounce: str = "5m"
    min_hours: float = 24.0
    min_sessions: int = 3
    prompt_version: str = "dream-v1"
    max_synthesis_bytes: int = 8_000
    lock_ttl: str = "10m"
    gates: DreamGates = field(default_factory=DreamGates)
    scoring: DreamScoring = field(default_factory=DreamScoring)


@dataclass
class ExtractorQueue:
    capacity: int = 64
    coalesce_max: int = 16


@dataclass
class ExtractorConfig:
    enabled: bool = True
    mode: str = "rules"
    model: str = ""
    deadline: str = "30s"
    inbox_path: str = "memory/_inbox"
    dlq_path: str = "memory/_system/extractor/failures"
    sandbox_inbox_only: bool = True
    throttle_turns: int = 1
    queue: ExtractorQueue = field(default_factory=ExtractorQueue)


@dataclass
class SessionConfig:
    ledger_root: str = "sessions"
    ledger_format: str = "jsonl"
    unbound_partition: str = "_unbound"
    events_purge_grace: str = "24h"
    cold_archive_days: int = 30
    hard_delete_days: int = 0
    max_archive_bytes: int = 268_435_456


@dataclass
class DailyConfig:
    max_bytes: int = 65_536
    max_lines: int = 500
    rotate_format: str = "{date}.{seq}.md"
    sweep_hour: int = 3
    cold_archive_days: int = 30
    hard_delete_days: int = 0
    archive_path: str = "_system/archive"
    max_archive_bytes: int = 67_108_864
    dreaming_window: int = 7


@dataclass
class DecisionsConfig:
    prune_after_applied_days: int = 90
    keep_audit_summary: bool = True
    max_post_content_bytes: int = 65_536


@dataclass
class FileConfig:
    max_lines: int = 200
    max_bytes: int = 25_600


@dataclass
class ProviderConfig:
    name: str = "local"
    base_url: str = ""
    model: str = ""
    api_key_env: str = "AGHMEM_LLM_API_KEY"
    timeout: str = "10s"
    failure_threshold: int = 3
    cooldown: str = "60s"


@dataclass
class WorkspaceConfig:
    auto_create: bool = True
    toml_path: str = ".agh/workspace.toml"


@dataclass
class McpConfig:
    # Tools left out of tools/list (and refused if called), e.g. ["memory_forget"].
    hidden_tools: list[str] = field(default_factory=list)
    # Build the MCP server (about a second of CPU) in the background while the
    # daemon starts, so the first initialize is quick; false: on first use.
    warm_up: bool = True


@dataclass
class HooksConfig:
    # Where the daemon may read a transcript a hook names (`transcript_path`):
    # regular files inside these folders, up to max_transcript_bytes.
    transcript_roots: list[str] = field(default_factory=lambda: ["~/.claude/projects", "~/.codex/sessions"])
    max_transcript_bytes: int = 67_108_864
    min_prompt_chars: int = 20
    brief_entries: int = 8


@dataclass
class Config:
    home: str = ""
    enabled: bool = True
    server: ServerConfig = field(default_factory=ServerConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    privacy_policy: PrivacyPolicyConfig = field(default_factory=PrivacyPolicyConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    dream: DreamConfig = field(default_factory=DreamConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    daily: DailyConfig = field(default_factory=DailyConfig)
    decisions: DecisionsConfig = field(default_factory=DecisionsConfig)
    file: FileConfig = field(default_factory=FileConfig)
    provider: ProviderConfig = field(default_factory=ProviderConfig)
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    mcp: McpConfig = field(default_factory=McpConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    compat: CompatConfig = field(default_factory=CompatConfig)

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    def to_dict(self, *, mask_secrets: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if mask_secrets and data["server"]["token"]:
            data["server"]["token"] = "********"
        data["global_dir"] = str(self.home_path / "memory")
        if mask_secrets:
            for surface in ("cf", "cfg", "kv"):
                data["compat"][surface]["tokens"] = ["********" for _ in data["compat"][surface]["tokens"]]
        return data

    def writes_per_min(self, origin: str) -> int:
        """The controller's rate limit for `origin` (0: none). A compat
        surface has its own, so one client cannot use up another's."""
        surface = self.compat.surface_of_origin(origin)
        return surface.max_writes_per_min if surface else self.controller.policy.max_writes_per_min


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """'30m' → 1800.0 seconds. Accepts ms, s, m, h, d."""
    match = _DURATION_RE.fullmatch(text)
    if not match:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 24h)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _validate(config: Config) -> None:
    for path in (
        "server.header_timeout",
        "controller.max_latency",
        "controller.llm.timeout",
        "index.reconcile_interval",
        "index.debounce",
        "index.commit_interval",
        "dream.check_interval",
        "dream.debounce",
        "extractor.deadline",
        "session.events_purge_grace",
        "provider.timeout",
        "provider.cooldown",
    ):
        obj: Any = config
        for part in path.split("."):
            obj = getattr(obj, part)
        try:
            parse_duration(obj)
        except ConfigError:
            raise ConfigError(f"config key {path}: not a duration: {obj!r}") from None
    if config.controller.mode not in ("rules", "hybrid", "llm"):
        raise ConfigError("controller.mode must be rules, hybrid or llm")
    if config.controller.default_op_on_fail not in ("noop", "add", "reject"):
        raise ConfigError("controller.default_op_on_fail must be noop, add or reject")
    if config.recall.fusion not in ("weighted", "rrf"):
        raise ConfigError("recall.fusion must be weighted or rrf")
    if not 0 <= config.recall.min_evidence <= 1:
        raise ConfigError("recall.min_evidence must be from 0 (off) to 1")
    if not 0 <= config.recall.min_evidence_each <= 1:
        raise ConfigError("recall.min_evidence_each must be from 0 to 1")
    if config.recall.max_package_bytes < 1024:
        raise ConfigError("recall.max_package_bytes must be at least 1024")
    if config.hooks.max_transcript_bytes < 1 or config.hooks.min_prompt_chars < 0 or config.hooks.brief_entries < 0:
        raise ConfigError("hooks.max_transcript_bytes must be at least 1; hooks.min_prompt_chars and hooks.brief_entries at least 0")
    if not all(Path(root).expanduser().is_absolute() for root in config.hooks.transcript_roots):
        raise ConfigError("hooks.transcript_roots must be absolute paths (~ is allowed)")
    if not 0 < config.server.port < 65536 and config.server.port != 0:
        raise ConfigError("server.port must be between 1 and 65535")
    for pattern in config.privacy_policy.redact_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"privacy_policy.redact_patterns: bad pattern {pattern!r}: {exc}") from None
    validate_compat(config.compat)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        import ipaddress  # here, not at the top: `aghmem hook` imports this module on every prompt

        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_config_path(home: Path) -> Path:
    return home / "config.toml"


def find_config_file(
    path: str | os.PathLike[str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> Path | None:
    """`path`, else `$AGHMEM_CONFIG`, else `HOME/config.toml` if it exists."""
    env = dict(os.environ) if env is None else env
    if path:
        return Path(path)
    if env.get("AGHMEM_CONFIG"):
        return Path(env["AGHMEM_CONFIG"])
    home_value = str(home) if home else env.get("AGHMEM_HOME", "")
    candidate = default_config_path(Path(home_value or "~/.aghmem").expanduser())
    return candidate if candidate.exists() else None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> Config:
    """Build the effective config.

    Precedence: explicit arguments (the CLI's flags) > environment > config
    file > embedded defaults. The config file is `path`, else
    `$AGHMEM_CONFIG`, else `HOME/config.toml` when it exists.
    """
    env = dict(os.environ) if env is None else env
    config = Config()

    home_value = str(home) if home else env.get("AGHMEM_HOME", "")
    config_path = find_config_file(path, home=home, env=env)
    if config_path is not None:
        import tomllib  # here, not at the top: most runs of `aghmem hook` have no config file

        try:
            data = tomllib.loads(config_path.expanduser().read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config_path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
        overlay(config, data)

    if home_value:
        config.home = home_value
    if not config.home:
        config.home = "~/.aghmem"
    config.home = str(Path(config.home).expanduser().absolute())
    if env.get("AGHMEM_PORT"):
        try:
            config.server.port = int(env["AGHMEM_PORT"])
        except ValueError:
            raise ConfigError(f"AGHMEM_PORT is not a port number: {env['AGHMEM_PORT']!r}") from None
    if env.get("AGHMEM_TOKEN"):
        config.server.token = env["AGHMEM_TOKEN"]
    _validate(config)
    return config
