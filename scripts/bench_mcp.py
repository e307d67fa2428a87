#!/usr/bin/env python3
"""MCP latency over real HTTP: initialize, tools/list, memory_search.

Writes N memory files into a fresh HOME, then:

- cold start: spawns `aghmem serve` on a chosen port and at once sends an
  MCP `initialize` (retrying until the port accepts): how long until the
  port listens, the daemon announces itself, `initialize` is answered, and
  what the answer waited for (the lifespan scans and indexes every file
  before any request is served);
- the first initialize right after the announcement, with the server built
  in the background (mcp.warm_up, the default) and on first use;
- steady state: R rounds of each request on one keep-alive connection, in
  both protocol eras (the `initialize` handshake and the sessionless
  2026-07-28 one), median and p99.

    python scripts/bench_mcp.py [--memories 3000] [--rounds 200] [--json out.json]

Requests are raw JSON-RPC over stdlib `http.client`, so the client measures
as little of itself as it can. Progress on stderr; a table, then the JSON
document, on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

# The defaults (the MCP server is built in the background once the daemon
# serves), without the write limit.
CONFIG = "[controller.policy]\nmax_writes_per_min = 0\n"
LAZY_CONFIG = CONFIG + "[mcp]\nwarm_up = false\n"

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
WORDS = (
    "deploy cache index schema retry token branch release migration config lint build docker queue worker "
    "postgres redis kafka nginx python rust golang typescript review commit rollback feature flag metric alert "
    "latency budget owner oncall runbook secret vault backup restore shard replica tenant quota invoice"
).split()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def write_corpus(n: int, memory_dir: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    memory_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = " ".join(" ".join(rng.choices(WORDS, k=rng.randint(8, 14))).capitalize() + "." for _ in range(rng.randint(3, 8)))
        name = " ".join(rng.choices(WORDS, k=4))
        (memory_dir / f"user_bench_{i}.md").write_text(f"---\nname: {name} {i}\ndescription: note {i}\ntype: user\n---\n{body}\n")


# --- JSON-RPC over one connection ------------------------------------------------


def legacy_message(method: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {} if method == "initialize" else {"mcp-protocol-version": LEGACY}
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}, headers


def modern_message(method: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    if method == "tools/call":
        headers["mcp-name"] = (params or {})["name"]
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": meta}}, headers


INITIALIZE = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}


def rpc(conn: http.client.HTTPConnection, message: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    conn.request(
        "POST", "/mcp", json.dumps(message),
        {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    if response.status != 200 or "error" in body:
        raise RuntimeError(f"{message['method']}: HTTP {response.status} {body}")
    return body


def timed(conn: http.client.HTTPConnection, rounds: int, message: tuple[dict[str, Any], dict[str, str]]) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        rpc(conn, *message)
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 0.99), 2), "n": rounds}


def steady(port: int, rounds: int) -> dict[str, dict[str, float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    search = {"name": "memory_search", "arguments": {"query": "postgres replica latency budget"}}
    cases = {
        "initialize": legacy_message("initialize", INITIALIZE),
        "tools/list": legacy_message("tools/list"),
        "memory_search": legacy_message("tools/call", search),
        "discover (2026)": modern_message("server/discover"),
        "tools/list (2026)": modern_message("tools/list"),
        "memory_search (2026)": modern_message("tools/call", search),
    }
    for message in cases.values():  # warm: connection, the SDK's first-call paths
        rpc(conn, *message)
    results = {name: timed(conn, rounds, message) for name, message in cases.items()}
    conn.close()
    return results


# --- cold start ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_initialize(port: int, started: float, out: dict[str, float]) -> None:
    """Connect as soon as the port listens, send initialize, note the times."""
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.connect()
            break
        except OSError:
            time.sleep(0.005)
    out["listening_s"] = time.perf_counter() - started
    sent = time.perf_counter()
    rpc(conn, *legacy_message("initialize", INITIALIZE))
    out["initialize_answered_s"] = time.perf_counter() - started
    out["initialize_waited_s"] = time.perf_counter() - sent
    sent = time.perf_counter()
    rpc(conn, *legacy_message("tools/list"))
    out["then_tools_list_ms"] = (time.perf_counter() - sent) * 1000
    conn.close()


def cold_start(home: Path, port: int) -> dict[str, float]:
    state_file = home / "state" / "server.json"
    state_file.unlink(missing_ok=True)
    out: dict[str, float] = {}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}, "AGHMEM_HOME": str(home)}
    command = [sys.executable, "-m", "aghmem", "serve", "--port", str(port), "--config", str(home / "config.toml")]
    started = time.perf_counter()
    with open(home / "daemon.log", "ab") as daemon_log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=daemon_log, stderr=subprocess.STDOUT)
    client = threading.Thread(target=first_initialize, args=(port, started, out))
    client.start()
    while not state_file.exists():
        time.sleep(0.005)
    out["announced_s"] = time.perf_counter() - started
    client.join()
    proc.terminate()
    proc.wait(timeout=60)
    return {key: round(value, 3) for key, value in out.items()}


def first_after_ready(home: Path, config: str) -> float:
    """Seconds the first initialize takes, sent the moment the daemon announces itself."""
    daemon = Daemon(home, config, start_timeout=600).start()
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    started = time.perf_counter()
    rpc(conn, *legacy_message("initialize", INITIALIZE))
    took = time.perf_counter() - started
    conn.close()
    daemon.stop(timeout=60)
    return round(took, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--json", help="also write the JSON result here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aghmem-bench-mcp-") as tmp:
        home = Path(tmp) / "home"
        log(f"writing {args.memories} memory files…")
        write_corpus(args.memories, home / "memory")
        (home / "config.toml").write_text(CONFIG)
        log("cold start: scan and index everything, initialize sent at once…")
        cold = cold_start(home, free_port())
        log(f"  {cold}")
        log("first initialize after the announcement, warm-up on and off…")
        first = {"warm_up_s": first_after_ready(home, CONFIG), "on_first_use_s": first_after_ready(home, LAZY_CONFIG)}
        log(f"  {first}")
        log("warm restart, then steady state…")
        daemon = Daemon(home, CONFIG, start_timeout=600).start()
        warm_s = daemon.start_seconds
        results = steady(daemon.port, args.rounds)
        indexed = daemon.get("/api/memory/health").json()["indexed_files"]
        daemon.stop(timeout=60)

    document = {"benchmark": "mcp", "memories": args.memories, "indexed_files": indexed, "cold_start": cold, "first_initialize": first,
                "warm_restart_s": round(warm_s, 2), "steady": results, "cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}
    print(f"memories                 {args.memories} ({indexed} indexed)")
    print(f"cold: port listens       {cold['listening_s']} s after spawn")
    print(f"cold: announced          {cold['announced_s']} s")
    print(f"cold: initialize answer  {cold['initialize_answered_s']} s (waited {cold['initialize_waited_s']} s); "
          f"then tools/list {cold['then_tools_list_ms']:.1f} ms")
    print(f"first initialize         {first['warm_up_s']} s after the announcement (built in the background); "
          f"{first['on_first_use_s']} s (built on first use)")
    print(f"warm restart             {document['warm_restart_s']} s")
    for name, r in results.items():
        print(f"{name:24} median {r['median_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms   (n={r['n']})")
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
