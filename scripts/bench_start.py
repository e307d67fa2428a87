#!/usr/bin/env python3
"""How soon a real daemon answers after it is started, cold and warm.

Generates a tree of N memories once (bench_search.py's corpus) spread over
F folders (F == 1: all in the global scope; else F agent scopes,
HOME/agents/aK/memory), kept under --tree and reused by later runs. Then,
for each round, spawns `aghmem serve` on a chosen port and polls, from the
moment of the spawn, in four threads at once:

- `GET /healthz` answered 200;
- MCP `initialize` (JSON-RPC over POST /mcp) answered;
- `POST /api/memory/search` answered 200 (what it says of the index is kept);
- `GET /api/memory/health` saying `ready` (the cold build is done).

A cold round deletes HOME/state (catalog and index) first; a warm round
restarts on what the cold one left.

    python scripts/bench_start.py --memories 20000 --folders 2000 --rounds 3

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from bench_search import CONFIG, Corpus, log  # noqa: E402

POLL = 0.01  # seconds between two attempts of one probe
READY_POLL = 0.25  # the health report is heavier: asked less often, it perturbs the start less
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
SEARCH = {"query_text": "dinner with friends last summer", "allow_trivial_query": True, "top_k": 5}


def write_tree(tree: Path, memories: int, folders: int) -> Path:
    """HOME with the memories in it; reused when already complete."""
    home = tree / "home"
    done = tree / "complete"
    if done.exists():
        return home
    shutil.rmtree(tree, ignore_errors=True)
    corpus = Corpus()
    dirs = [home / "memory"] if folders == 1 else [home / "agents" / f"a{k}" / "memory" for k in range(folders)]
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
    for i in range(memories):
        (dirs[i % len(dirs)] / f"{'user' if i % 2 else 'project'}_bench_{i}.md").write_text(corpus.memory(i))
        if (i + 1) % max(1, memories // 10) == 0:
            log(f"  wrote {i + 1}/{memories} memory files")
    done.write_text(f"{memories} {folders}\n")
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, payload, {"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data.decode(errors="replace")
    finally:
        conn.close()


def probe(name: str, attempt: Any, started: float, out: dict[str, Any], stop: threading.Event) -> None:
    """Call `attempt` until it returns a value (not None); note when."""
    pause = READY_POLL if name == "ready" else POLL
    while not stop.is_set():
        try:
            value = attempt()
        except OSError:
            value = None
        if value is not None:
            out[f"{name}_s"] = round(time.perf_counter() - started, 3)
            if value is not True:
                out[f"{name}_said"] = value
            return
        time.sleep(pause)


def one_start(home: Path, port: int, *, cold: bool) -> dict[str, Any]:
    if cold:
        shutil.rmtree(home / "state", ignore_errors=True)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}, "AGHMEM_HOME": str(home)}
    command = [sys.executable, "-m", "aghmem", "serve", "--port", str(port), "--config", str(home / "config.toml")]
    mcp_headers = {"Accept": "application/json, text/event-stream"}

    def healthz() -> bool | None:
        return True if request(port, "GET", "/healthz")[0] == 200 else None

    def initialize() -> bool | None:
        status, body = request(port, "POST", "/mcp", INITIALIZE, mcp_headers)
        return True if status == 200 and isinstance(body, dict) and "result" in body else None

    def search() -> Any:
        status, body = request(port, "POST", "/api/memory/search", SEARCH)
        return {"results": len(body.get("results", [])), "index": body.get("index")} if status == 200 else None

    def ready() -> Any:
        status, body = request(port, "GET", "/api/memory/health")
        return {"indexed_files": body["indexed_files"]} if status == 200 and body.get("ready") else None

    out: dict[str, Any] = {}
    stop = threading.Event()
    started = time.perf_counter()
    with open(home / "daemon.log", "ab") as daemon_log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=daemon_log, stderr=subprocess.STDOUT)
    probes = [
        threading.Thread(target=probe, args=(name, attempt, started, out, stop))
        for name, attempt in (("healthz", healthz), ("initialize", initialize), ("search", search), ("ready", ready))
    ]
    for thread in probes:
        thread.start()
    try:
        deadline = time.monotonic() + 1800
        while any(t.is_alive() for t in probes) and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {proc.returncode}; see {home / 'daemon.log'}")
            time.sleep(0.05)
        out["cpu_s"] = _cpu_seconds(proc.pid)
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=120)
        for thread in probes:
            thread.join()
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


TIMES = ("healthz_s", "initialize_s", "search_s", "ready_s", "cpu_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=20000)
    parser.add_argument("--folders", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", help="where the generated tree is kept (default: /tmp/aghmem-bench-start-N-F)")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold rounds (after one cold start)")
    parser.add_argument("--mcp-warm-up", choices=("on", "off"), default="on", help="mcp.warm_up (default on)")
    parser.add_argument("--json", help="also write the JSON result here")
    args = parser.parse_args()
    tree = Path(args.tree or f"/tmp/aghmem-bench-start-{args.memories}-{args.folders}")
    log(f"tree {tree} ({args.memories} memories in {args.folders} folder(s))")
    home = write_tree(tree, args.memories, args.folders)
    (home / "config.toml").write_text(CONFIG + f"[mcp]\nwarm_up = {'true' if args.mcp_warm_up == 'on' else 'false'}\n")
    port = free_port()
    rounds: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    for number in range(args.rounds):
        for kind in ("cold", "warm"):
            if kind == "cold" and args.warm_only and (number or (home / "state").exists()):
                continue
            result = one_start(home, port, cold=kind == "cold")
            log(f"  {kind} {number + 1}: " + ", ".join(f"{k} {result.get(k)}" for k in TIMES))
            rounds[kind].append(result)
    document: dict[str, Any] = {
        "benchmark": "bench_start", "memories": args.memories, "folders": args.folders, "mcp_warm_up": args.mcp_warm_up
    }
    for kind, results in rounds.items():
        if not results:
            continue
        document[kind] = {
            "median": {k: round(statistics.median(r[k] for r in results if k in r), 3) for k in TIMES},
            "first_search_said": results[0].get("search_said"),
            "rounds": results,
        }
        median = document[kind]["median"]
        print(f"{kind:5s} ({len(results)} rounds, medians): " + "  ".join(f"{k[:-2]} {median[k]}" for k in TIMES))
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
