"""Where the daemon is: the one thing every command and `aghmem hook` need
first. Apart from output.py so that the hook, which a runtime runs on every
prompt, imports the config reader and nothing else (no httpx)."""

from __future__ import annotations

import argparse
import os

from ...config import load_config


def daemon_url(args: argparse.Namespace) -> tuple[str, str | None]:
    """--url, else $AGHMEM_URL, else host/port from the config ($AGHMEM_PORT)."""
    config = load_config()
    token = args.token or config.server.token or None
    if args.url:
        return args.url, token
    if os.environ.get("AGHMEM_URL"):
        return os.environ["AGHMEM_URL"], token
    host = config.server.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}", token
