#!/usr/bin/env python3
"""CF Agent Memory latency over HTTP, next to the native routes, in one run.

Starts a real daemon in a fresh HOME (no write limits), creates a
namespace, then times, one client with keep-alive:

- N `POST …/profiles/bench/remember` (classify, candidate, controller, file)
  against N native `POST /api/memory` of the same texts (another scope);
- Q `POST …/profiles/bench/recall` (exact-scope search + extractive answer)
  against Q native `POST /api/memory/search` over the native copies;
- Q `GET …/profiles/bench/memories?per_page=20&cursor=…`, pages from all over
  the profile (one keyset query on the catalog each).

    python scripts/bench_compat_cf.py [--writes 500] [--queries 300] [--json out.json]

Progress on stderr; a table (median / p99 ms) and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_search import Corpus, log

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

CONFIG = "[controller.policy]\nmax_writes_per_min = 0\n[compat.cf]\nmax_writes_per_min = 0\n[mcp]\nwarm_up = false\n"
B = "/client/v4/accounts/bench/agent-memory"
P = B + "/namespaces/bench-ns/profiles/bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[float, dict]:
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        payload = json.loads(response.read())
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return elapsed, payload


def timed(label: str, count: int, step) -> list[float]:
    times = []
    for i in range(count):
        times.append(step(i))
        if (i + 1) % max(1, count // 5) == 0:
            log(f"  {label}: {i + 1}/{count}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    args = parser.parse_args()
    corpus = Corpus()
    texts = [corpus.phrase(12).capitalize() + ". " + corpus.phrase(10) + "." for _ in range(args.writes)]
    queries = [corpus.query() for _ in range(args.queries)]
    daemon = Daemon(Path(tempfile.mkdtemp(prefix="bench-cf-")) / "home", CONFIG).start()
    try:
        client = Client(daemon.port)
        client.call("POST", B + "/namespaces", {"name": "bench-ns"})
        log(f"daemon on port {daemon.port}; {args.writes} writes, {args.queries} queries each way")
        results = {
            "cf_remember": timed("cf remember", args.writes, lambda i: client.call("POST", P + "/remember", {"content": texts[i]})[0]),
            "native_write": timed("native write", args.writes, lambda i: client.call(
                "POST", "/api/memory", {"type": "user", "name": texts[i][:60], "content": texts[i], "agent_name": "bench-native"}
            )[0]),
            "cf_recall": timed("cf recall", args.queries, lambda i: client.call("POST", P + "/recall", {"query": queries[i]})[0]),
            "native_search": timed("native search", args.queries, lambda i: client.call(
                "POST", "/api/memory/search", {"query_text": queries[i], "agent_name": "bench-native"}
            )[0]),
        }
        pages = [""]
        while True:
            following = client.call("GET", P + "/memories?per_page=20" + (f"&cursor={pages[-1]}" if pages[-1] else ""))[1]
            if not following["result_info"]["cursor"]:
                break
            pages.append(following["result_info"]["cursor"])
        results["cf_list_page"] = timed("cf list page", args.queries, lambda i: client.call(
            "GET", P + "/memories?per_page=20" + (f"&cursor={pages[i % len(pages)]}" if pages[i % len(pages)] else ""))[0])
    finally:
        daemon.stop()
    report = {name: {"n": len(v), "median_ms": round(statistics.median(v), 2), "p99_ms": round(percentile(v, 0.99), 2)}
              for name, v in results.items()}
    print(f"{'operation':<16}{'n':>6}{'median ms':>12}{'p99 ms':>10}")
    for name, row in report.items():
        print(f"{name:<16}{row['n']:>6}{row['median_ms']:>12}{row['p99_ms']:>10}")
    document = json.dumps({"writes": args.writes, "queries": args.queries, "results": report}, indent=2)
    print(document)
    if args.json:
        args.json.write_text(document + "\n")


if __name__ == "__main__":
    main()
