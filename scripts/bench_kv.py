#!/usr/bin/env python3
"""Key-value reads (seed 003) at scale: one real daemon holds --agents
agents of --keys keys each (values a mix of small objects, strings, lists,
and one blob-sized value per agent), written through `POST /api/memory` in
bulks of 50. Then, --runs times each, over one kept-alive connection:

- `get one`: `GET /api/memory?agentId=<agent>` (one agent's keys);
- `get all`: `GET /api/memory?agentId=all` (every agent's, merged);
- `health`: `GET /api/memory/health` (whose KV part checks every card).

    python scripts/bench_kv.py [--agents 20] [--keys 90] [--runs 200] [--json out.json]

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import FAST_CONFIG, Daemon  # noqa: E402

CONFIG = FAST_CONFIG + "[compat.kv]\nmax_writes_per_min = 0\n"
WORDS = "theme locale timezone editor font layout cache retry budget window region tier plan quota".split()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def value(rng: random.Random, n: int) -> Any:
    kind = n % 4
    if kind == 0:
        return {"theme": rng.choice(WORDS), "size": rng.randint(8, 24), "flags": [rng.random() < 0.5 for _ in range(3)]}
    if kind == 1:
        return " ".join(rng.choices(WORDS, k=12))
    if kind == 2:
        return [rng.randint(0, 1000) for _ in range(20)]
    return {"nested": {"a": rng.choice(WORDS), "b": {"c": n}}, "note": " ".join(rng.choices(WORDS, k=6))}


def seed(daemon: Daemon, agents: int, keys: int) -> list[str]:
    rng = random.Random(7)
    names = [f"bench_agent_{a:03d}" for a in range(agents)]
    for a, agent in enumerate(names):
        memory = {f"key_{k:03d}": value(rng, k) for k in range(keys)}
        memory["key_big"] = "x" * 20_000  # above inline_max_bytes: a blob card
        items = list(memory.items())
        for start in range(0, len(items), 50):
            answer = daemon.post("/api/memory", {"agentId": agent, "memory": dict(items[start : start + 50])})
            answer.raise_for_status()
        log(f"  agent {a + 1}/{agents}: {len(memory)} keys")
    return names


def timed(daemon: Daemon, runs: int, path: str, params: dict[str, str] | None = None) -> tuple[list[float], Any]:
    times, body = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = daemon.get(path, params=params)
        times.append(time.perf_counter() - started)
        answer.raise_for_status()
        body = answer.json()
    return times, body


def row(case: str, times: list[float], count: int) -> dict[str, Any]:
    return {
        "case": case,
        "runs": len(times),
        "keys": count,
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(percentile(times, 0.99) * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--keys", type=int, default=90)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aghmem-bench-kv-") as tmp:
        daemon = Daemon(Path(tmp) / "home", CONFIG).start()
        try:
            log(f"writing {args.agents} agents x {args.keys + 1} keys")
            names = seed(daemon, args.agents, args.keys)
            rows = []
            for case, path, params in (
                ("get one", "/api/memory", {"agentId": names[0]}),
                ("get all", "/api/memory", {"agentId": "all"}),
                ("health", "/api/memory/health", None),
            ):
                log(f"timing {case} ({args.runs} runs)")
                times, body = timed(daemon, args.runs, path, params)
                rows.append(row(case, times, body.get("count", 0) if "memory" in body else 0))
        finally:
            daemon.stop()
    document = {"agents": args.agents, "keys_per_agent": args.keys + 1, "results": rows}
    print(f"{'case':<10} {'runs':>5} {'keys':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for r in rows:
        print(f"{r['case']:<10} {r['runs']:>5} {r['keys']:>6} {r['p50_ms']:>9} {r['p99_ms']:>9} {r['max_ms']:>9}")
    print(json.dumps(document))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
