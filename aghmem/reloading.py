"""Which settings a running daemon can take again (`POST /api/memory/reload`).

Paths are dotted config keys (`recall.top_k`); the config's sections are
dataclasses, walked by name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import Config, ServerConfig

# Paths read once at start-up: where the daemon listens and what it owns
# (home, server), and what a part was built with (the scheduler's times, the
# watcher's debounce, the index's commit delay, the signal queue, the
# directories of ledgers and the inbox, the provider's breaker, the MCP
# server's tools and warm-up, the compat surfaces' switches and tokens: the
# routes and the request guard are built with them). A reload keeps their running values and says
# which ones changed in the file (they need a restart); everything else is
# taken again by `POST /api/memory/reload`.
LOCKED_PATHS = [
    "home",
    *(f"server.{f.name}" for f in dataclasses.fields(ServerConfig)),
    "workspace.toml_path",
    "workspace.auto_create",
    "index.commit_interval",
    "index.debounce",
    "index.reconcile_interval",
    "recall.signals.queue_capacity",
    "recall.signals.worker_retry_max",
    "recall.signals.metrics_enabled",
    "session.ledger_root",
    "dream.check_interval",
    "daily.sweep_hour",
    "extractor.inbox_path",
    "extractor.dlq_path",
    "provider.name",
    "provider.failure_threshold",
    "provider.cooldown",
    "mcp.hidden_tools",
    "mcp.warm_up",
    *(f"compat.{surface}.{setting}" for surface in ("cf", "cfg", "kv") for setting in ("enabled", "tokens")),
]


def get_path(config: Config, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


def set_path(config: Config, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = config
    for part in parents:
        target = getattr(target, part)
    setattr(target, last, value)


def mutable_paths(config: Config) -> list[str]:
    paths: list[str] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            path = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(value):
                walk(value, path + ".")
            elif path not in LOCKED_PATHS:
                paths.append(path)

    walk(config, "")
    return paths
