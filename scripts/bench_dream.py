#!/usr/bin/env python3
"""A dream at scale: N memories in one scope, S of them with recall signals.

Writes N generated memories (the search benchmark's corpus) in the global
scope, starts a real daemon, gives S memories recall signals (written to
SQLite directly, with realistic spreads of counts, queries, scores and
times: the benchmark measures the dream, not the recalls), then times over
HTTP, --runs times each:

- a dry run (scores every candidate, answers all of them);
- a forced run (review, artifact, synthesis through the controller, signals
  marked promoted). Between runs the signals are unmarked and the synthesis
  deleted, so every run does the same work.

    python scripts/bench_dream.py --memories 100000 --signals 10000 [--json out.json]

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_search import Corpus, log

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.controller.decisions import stamp  # noqa: E402
from aghmem.model import GLOBAL, memory_id  # noqa: E402
from aghmem.testing import Daemon  # noqa: E402

CONFIG = "[controller.policy]\nmax_writes_per_min = 0\n"


def write_memories(n: int, directory: Path) -> list[str]:
    corpus = Corpus()
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        name = f"{'user' if i % 2 else 'project'}_bench_{i}.md"
        (directory / name).write_text(corpus.memory(i))
        names.append(name)
        if (i + 1) % max(1, n // 10) == 0:
            log(f"  wrote {i + 1}/{n} memory files")
    return names


def add_signals(db_path: Path, filenames: list[str], count: int, rng: random.Random) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for filename in rng.sample(filenames, count):
        first = now - dt.timedelta(hours=rng.uniform(1, 24 * 30))
        last = first + (now - first) * rng.random()
        recalls = max(1, int(rng.paretovariate(1.2)))
        rows.append((
            memory_id(GLOBAL, filename), recalls, stamp(last, ms=True), stamp(first, ms=True), rng.uniform(0.2, 1.0),
            min(recalls, rng.randint(1, 4)), min(recalls, rng.randint(1, 5)),
        ))
    with sqlite3.connect(db_path, timeout=30) as db:
        db.executemany(
            "INSERT OR REPLACE INTO signals (memory_id, recall_count, last_recalled_at, first_recalled_at, "
            "recall_score, session_count, query_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aghmem-bench-dream-") as tmp:
        home = Path(tmp) / "home"
        log(f"writing {args.memories} memories")
        filenames = write_memories(args.memories, home / "memory")
        daemon = Daemon(home, CONFIG, start_timeout=300)
        log("starting the daemon (scans and indexes every file)")
        cold = daemon.start().start_seconds
        log(f"  ready in {cold:.1f} s; adding {args.signals} recall signals")
        db_path = home / "state" / "aghmem.db"
        add_signals(db_path, filenames, args.signals, random.Random(11))
        dry_times, run_times = [], []
        result: dict = {}
        try:
            with httpx.Client(base_url=daemon.url, timeout=300) as http:
                for run in range(args.runs):
                    with sqlite3.connect(db_path, timeout=30) as db:
                        db.execute("UPDATE signals SET promoted_at = NULL")
                    for path in (home / "memory").glob("project_dreaming_*.md"):
                        http.delete(f"/api/memory/{path.name}").raise_for_status()
                    started = time.perf_counter()
                    dry = http.post("/api/memory/dreams/trigger", json={"force": True, "dry_run": True})
                    dry.raise_for_status()
                    dry_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    response = http.post("/api/memory/dreams/trigger", json={"force": True})
                    response.raise_for_status()
                    run_times.append(time.perf_counter() - started)
                    result = response.json()
                    if result["dream"] is None or result["dream"]["status"] != "promoted":
                        raise SystemExit(f"the dream did not promote: {result['reason']}")
                    log(f"  run {run + 1}/{args.runs}: dry run {dry_times[-1]:.2f} s "
                        f"({len(dry.json()['candidates'])} candidates), dream {run_times[-1]:.2f} s "
                        f"({result['dream']['promoted_count']} promoted)")
        finally:
            daemon.stop(timeout=60)

    dream = result["dream"]
    report = {
        "memories": args.memories,
        "signals": args.signals,
        "runs": args.runs,
        "candidates": dream["candidate_count"],
        "promoted": dream["promoted_count"],
        "dream_s": {"median": statistics.median(run_times), "p99": percentile(run_times, 0.99), "max": max(run_times)},
        "dry_run_s": {"median": statistics.median(dry_times), "p99": percentile(dry_times, 0.99)},
        "cold_start_s": cold,
    }
    print(f"{'memories':>10} {'signals':>8} {'candidates':>10} {'promoted':>8} {'dream p50':>10} {'dream p99':>10} {'dry p50':>8}")
    print(f"{args.memories:>10} {args.signals:>8} {report['candidates']:>10} {report['promoted']:>8} "
          f"{report['dream_s']['median']:>9.2f}s {report['dream_s']['p99']:>9.2f}s {report['dry_run_s']['median']:>7.2f}s")
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
