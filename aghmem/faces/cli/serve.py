"""`aghmem serve`: run the daemon in this process."""

from __future__ import annotations

import argparse
from typing import Any

from ...config import find_config_file, load_config


def cmd_serve(args: argparse.Namespace) -> None:
    from ..server import serve  # the server's imports are heavy; the other commands never need them

    config = load_config(args.config, home=args.home)
    if args.host:
        config.server.host = args.host
    if args.port is not None:
        config.server.port = args.port
    serve(config, find_config_file(args.config, home=config.home))


def add_commands(commands: Any) -> None:
    p = commands.add_parser("serve", help="run the daemon", description="Run the daemon in the foreground until SIGTERM or Ctrl-C.")
    p.add_argument("--home", metavar="DIR", help="memory home (default: $AGHMEM_HOME or ~/.aghmem)")
    p.add_argument("--host", help="address to listen on (default: server.host from the config)")
    p.add_argument("--port", type=int, help="port to listen on, 0 for any free one (default: server.port from the config)")
    p.add_argument("--config", metavar="FILE", help="config file (default: HOME/config.toml)")
    p.set_defaults(func=cmd_serve, local=True)
