#!/usr/bin/env python3
"""Search at scale: indexing, restart, query latency, edit-to-searchable lag.

Writes N generated memories of realistic length as files (half global, half
in one workspace), then measures over HTTP against a real daemon:

- cold start: process start to ready, with every file scanned and indexed;
- warm restart with no changes;
- search latency p50/p99 with 1 and 8 clients, and the daemon's own CPU
  per search (all its threads, from /proc);
- hand-edit-to-searchable lag: a file written by hand (temp + rename, as
  editors save) until a search finds it, over --edits edits;
- the daemon's peak RSS.

    python scripts/bench_search.py --memories 10000 [--vocabulary english] [--json out.json]

Vocabulary: `english` (default) samples words with the frequencies they have
in the LoCoMo conversations of ../shared/data (read at run time, nothing
kept), so word and trigram statistics are those of real English; `synthetic`
builds words from 16 syllables, a worst case for the trigram view (every
trigram is in about half of the memories).

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

SEED = 7
CONFIG = "[controller.policy]\nmax_writes_per_min = 0\n[recall.signals]\nmetrics_enabled = false\n"


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ten", "ra", "sul", "pre", "dor", "vin", "ex", "tal", "mon", "ser", "ga", "bli", "nor"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"


def english_vocabulary() -> tuple[list[str], list[float]]:
    """Words and their counts in the LoCoMo conversations."""
    counts: collections.Counter[str] = collections.Counter()
    for conversation in json.loads(DATA.read_text()):
        for key, turns in conversation["conversation"].items():
            if key.startswith("session_") and isinstance(turns, list):
                for turn in turns:
                    counts.update(w.lower() for w in re.findall(r"[A-Za-z']+", turn.get("text", "")))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    return words, [counts[w] for w in words]


class Corpus:
    kind = "english"

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        if Corpus.kind == "english":
            self.words, weights = english_vocabulary()
        else:
            self.words = vocabulary(self.rng)
            # Zipf-like weights: a few words are everywhere, most are rare.
            weights = [1 / (rank + 1) ** 1.05 for rank in range(len(self.words))]
        self.cum_weights = list(itertools.accumulate(weights))

    def phrase(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=n))

    def memory(self, i: int) -> str:
        rng = self.rng
        body = [self.phrase(rng.randint(8, 16)).capitalize() + "." for _ in range(rng.randint(3, 9))]
        if rng.random() < 0.3:
            a, b = rng.sample(self.words[:2000], 2)
            body.append(f"See `{a}{b.capitalize()}()` in src/{a}/{b}_util.py.")
        # JSON strings are YAML: a phrase may start with a quote ('em …).
        name, description = json.dumps(self.phrase(rng.randint(3, 6))), json.dumps(self.phrase(rng.randint(6, 12)))
        return f"---\nname: {name}\ndescription: {description}\ntype: {'user' if i % 2 else 'project'}\n---\n" + " ".join(body) + "\n"

    def query(self) -> str:
        # Queries name things: skip the 150 most frequent words (the, you,
        # I…), then sample by frequency like the memories themselves.
        skip = 150 if len(self.words) > 1000 else 0
        base = self.cum_weights[skip - 1] if skip else 0.0
        weights = [w - base for w in self.cum_weights[skip:]]
        return " ".join(self.rng.choices(self.words[skip:], cum_weights=weights, k=self.rng.randint(2, 5)))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_corpus(n: int, global_dir: Path, ws_dir: Path) -> None:
    corpus = Corpus()
    global_dir.mkdir(parents=True, exist_ok=True)
    ws_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        target = global_dir if i % 2 else ws_dir
        (target / f"{'user' if i % 2 else 'project'}_bench_{i}.md").write_text(corpus.memory(i))
        if (i + 1) % max(1, n // 10) == 0:
            log(f"  wrote {i + 1}/{n} memory files")


def register_workspace(home: Path, ws_root: Path, ws_id: str) -> None:
    """Register the workspace before the first start, as a user would have."""
    (home / "workspaces.toml").write_text(
        f'[[workspace]]\nid = "{ws_id}"\npath = "{ws_root.resolve()}"\nadded_at = "2026-01-01T00:00:00Z"\n'
    )


def write_home(base: Path, n: int, ws_id: str) -> Path:
    """base/home with N memories, half global and half in the workspace at
    base/workspace (registered); returns the home."""
    home, ws_root = base / "home", base / "workspace"
    log(f"writing {n} memory files…")
    write_corpus(n, home / "memory", ws_root / ".agh" / "memory")
    (ws_root / ".agh" / "workspace.toml").write_text(f'id = "{ws_id}"\n')
    register_workspace(home, ws_root, ws_id)
    return home


class BenchDaemon(Daemon):
    def call(self, conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> dict:
        conn.request(method, path, json.dumps(body) if body is not None else None, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = json.loads(response.read())
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def search_load(daemon: BenchDaemon, ws_id: str, clients: int, queries: int) -> dict[str, float]:
    corpus = Corpus(seed=SEED + clients)
    texts = [corpus.query() for _ in range(queries)]
    latencies: list[float] = []
    answered = 0
    lock = threading.Lock()

    def worker(k: int) -> None:
        nonlocal answered
        conn = daemon.connect()
        mine = []
        found = 0
        for text in texts[k::clients]:
            body = {"query_text": text, "workspace_id": ws_id, "allow_trivial_query": True, "top_k": 10}
            t0 = time.perf_counter()
            result = daemon.call(conn, "POST", "/api/memory/search", body)
            mine.append(time.perf_counter() - t0)
            found += bool(result["results"])
        conn.close()
        with lock:
            latencies.extend(mine)
            answered += found

    started, cpu_before = time.perf_counter(), daemon.cpu_seconds()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, daemon_cpu = time.perf_counter() - started, daemon.cpu_seconds() - cpu_before
    return {
        "clients": clients,
        "queries": queries,
        "qps": round(queries / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        # The daemon's own CPU (all its threads) per search, from /proc.
        "daemon_cpu_ms": round(daemon_cpu * 1000 / queries, 2),
        # Queries are random words: with the relevance floor many find nothing.
        "non_empty": round(answered / queries, 3),
    }


def http_floor(daemon: BenchDaemon, requests: int) -> dict[str, float]:
    """GET /healthz over the same kind of connection: what HTTP alone
    costs (client, uvicorn, the guard, routing), the floor under a search."""
    conn = daemon.connect()
    latencies = []
    for _ in range(requests):
        t0 = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        latencies.append(time.perf_counter() - t0)
    conn.close()
    return {"p50_ms": round(statistics.median(latencies) * 1000, 2), "p99_ms": round(percentile(latencies, 0.99) * 1000, 2)}


def edit_lag(daemon: BenchDaemon, global_dir: Path, edits: int) -> dict[str, float]:
    """Write a file by hand (temp file, then rename) and poll search until
    it finds the file's unique word."""
    conn = daemon.connect()
    lags = []
    for i in range(edits):
        word = f"zqx{i}marker{SEED}"
        path = global_dir / f"user_hand_edit_{i}.md"
        tmp = global_dir / f".user_hand_edit_{i}.md.swp"
        tmp.write_text(f"---\nname: Hand edit {i}\ntype: user\n---\nA note with the word {word} in it.\n")
        os.replace(tmp, path)
        written = time.perf_counter()
        while True:
            found = daemon.call(conn, "POST", "/api/memory/search", {"query_text": word, "allow_trivial_query": True})
            if any(r["memory"]["filename"] == path.name for r in found["results"]):
                lags.append(time.perf_counter() - written)
                break
            if time.perf_counter() - written > 10:
                raise RuntimeError(f"edit {i} not searchable after 10 s")
            time.sleep(0.002)
        time.sleep(0.05)
    conn.close()
    return {
        "edits": edits,
        "p50_ms": round(statistics.median(lags) * 1000, 1),
        "p95_ms": round(percentile(lags, 0.95) * 1000, 1),
        "max_ms": round(max(lags) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--edits", type=int, default=25)
    parser.add_argument("--vocabulary", choices=["english", "synthetic"], default="english")
    parser.add_argument("--json", help="also write the JSON result here")
    args = parser.parse_args()
    Corpus.kind = args.vocabulary

    with tempfile.TemporaryDirectory(prefix="aghmem-bench-search-") as tmp:
        home = write_home(Path(tmp), args.memories, "ws_benchsearch1")

        daemon = BenchDaemon(home, CONFIG, start_timeout=300)
        log("cold start (scan and index everything)…")
        cold = daemon.start().start_seconds
        conn = daemon.connect()
        health = daemon.call(conn, "GET", "/api/memory/health")
        conn.close()
        log(f"  ready in {cold:.1f}s with {health['indexed_files']} documents")
        daemon.stop(timeout=60)
        log("warm restart…")
        warm = daemon.start().start_seconds
        log(f"  ready in {warm:.2f}s")
        log("HTTP floor (GET /healthz)…")
        floor = http_floor(daemon, args.queries)
        results = []
        for clients in (1, 8):
            log(f"search load, {clients} client(s)…")
            results.append(search_load(daemon, "ws_benchsearch1", clients, args.queries))
        log(f"edit-to-searchable lag over {args.edits} edits…")
        lag = edit_lag(daemon, home / "memory", args.edits)
        rss = daemon.peak_rss_mb()
        daemon.stop(timeout=60)

    document = {
        "benchmark": "search",
        "memories": args.memories,
        "vocabulary": args.vocabulary,
        "indexed_files": health["indexed_files"],
        "cold_start_s": round(cold, 2),
        "cold_files_per_s": round(args.memories / cold),
        "warm_restart_s": round(warm, 2),
        "http_floor": floor,
        "search": results,
        "edit_to_searchable": lag,
        "peak_rss_mb": round(rss, 1),
    }
    print(f"memories              {args.memories} ({args.vocabulary} vocabulary)")
    print(f"cold start            {document['cold_start_s']} s ({document['cold_files_per_s']} files/s)")
    print(f"warm restart          {document['warm_restart_s']} s")
    print(f"HTTP floor (/healthz) p50 {floor['p50_ms']} ms  p99 {floor['p99_ms']} ms")
    for r in results:
        print(f"search, {r['clients']} client(s)    p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  ({r['qps']} queries/s, "
              f"{r['non_empty']:.0%} non-empty, daemon CPU {r['daemon_cpu_ms']} ms a search)")
    print(f"edit to searchable    p50 {lag['p50_ms']} ms  p95 {lag['p95_ms']} ms  max {lag['max_ms']} ms ({lag['edits']} edits)")
    print(f"peak RSS              {document['peak_rss_mb']} MB")
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
