#!/usr/bin/env python3
"""Write throughput and latency of aghmem over HTTP.

Starts a real daemon on a loopback port in a fresh HOME, then for 1 and 8
concurrent clients sends N adds (new memories) followed by N updates (new
content for the same memories), each through the full controller path
(decision recorded, temp file + fsync + rename, catalog, then the group
commit every answer waits for: the decision log's WAL and the directory
fsynced, index document, MEMORY.md, daily log).

The machine is shared: compare commits by running this from each checkout
in turn, a few times, not with numbers from another day.

    python scripts/bench_write.py [--writes 2000] [--clients 1,8] [--json out.json]

The load comes from stdlib `http.client` connections with keep-alive: on a
2-core machine the client shares the CPU with the daemon, and a heavier
client library would measure itself. `daemon_cpu_ms` is the daemon's own
CPU time per write (from /proc), independent of the client.

Prints progress on stderr, a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.lock = threading.Lock()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            if self.done % max(1, self.total // 20) == 0 or self.done == self.total:
                print(f"\r  {self.label}: {self.done}/{self.total}", end="", file=sys.stderr, flush=True)
                if self.done == self.total:
                    print(file=sys.stderr)


def create_cost(directory: Path, files: int = 200) -> float:
    """Median CPU µs to create an empty file in `directory` (kept, so the
    probe frees no inode). On an ext4 without a journal (these machines),
    creating a file walks the inodes freed in the last few minutes
    (ext4's `recently_deleted`): ~25 µs on a quiet disk, up to ~1 ms for
    about five minutes after a bulk delete, such as the previous run's
    home. The write path creates a file per write: a run started right
    after another is slower for it, so the probe is reported with the run."""
    directory.mkdir(parents=True)
    costs = []
    for i in range(files):
        before = time.thread_time()
        os.close(os.open(directory / f"probe-{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        costs.append(time.thread_time() - before)
    return round(statistics.median(costs) * 1e6, 1)


def run_phase(daemon: Daemon, clients: int, writes: int, run_id: str, phase: str) -> dict[str, float]:
    """`writes` requests split over `clients` threads; returns the stats."""
    progress = Progress(f"{clients} client(s) {phase}", writes)
    latencies: list[float] = []
    lock = threading.Lock()
    errors = 0

    def worker(client_no: int) -> None:
        nonlocal errors
        mine: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
        try:
            for i in range(client_no, writes, clients):
                body = {
                    "type": "user",
                    "name": f"Bench {run_id} {i}",
                    "description": "benchmark memory",
                    "content": (
                        f"Memory {i} of run {run_id} ({phase}): the team deploys service {i % 97} "
                        f"with blue-green releases and keeps rollback scripts under ops/rollback/{i % 13}."
                    ),
                }
                payload = json.dumps(body)
                start = time.perf_counter()
                conn.request("POST", "/api/memory", payload, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                mine.append(time.perf_counter() - start)
                expected = "add" if phase == "add" else "update"
                if response.status != 200 or json.loads(data)["decision"]["op"] != expected:
                    with lock:
                        errors += 1
                progress.tick()
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    cpu_before = daemon.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.perf_counter() - started
    daemon_cpu = daemon.cpu_seconds() - cpu_before
    return {
        "clients": clients,
        "phase": phase,
        "writes": writes,
        "errors": errors,
        "writes_per_s": round(writes / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "daemon_cpu_ms": round(daemon_cpu * 1000 / writes, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=2000, help="writes per phase (default 2000)")
    parser.add_argument("--clients", default="1,8", help="client counts to run (default 1,8)")
    parser.add_argument("--json", help="also write the JSON result to this file")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="aghmem-bench-") as tmp:
        create_us = create_cost(Path(tmp) / "probe")
        print(f"creating a file: {create_us} µs of CPU (a quiet disk: ~25-50)", file=sys.stderr)
        daemon = Daemon(Path(tmp), "[controller.policy]\nmax_writes_per_min = 0\n", start_timeout=300)
        daemon.start()
        try:
            for clients in (int(c) for c in args.clients.split(",")):
                run_id = f"c{clients}"
                for phase in ("add", "update"):
                    results.append(run_phase(daemon, clients, args.writes, run_id, phase))
        finally:
            daemon.stop(timeout=60)

    document = {
        "benchmark": "write",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "file_create_us": create_us},
        "writes_per_phase": args.writes,
        "results": results,
    }
    header = (
        f"{'clients':>7}  {'op':<6}  {'writes':>6}  {'writes/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'max ms':>7}  {'cpu ms':>6}  {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['clients']:>7}  {r['phase']:<6}  {r['writes']:>6}  {r['writes_per_s']:>8}  "
            f"{r['p50_ms']:>7}  {r['p99_ms']:>7}  {r['max_ms']:>7}  {r['daemon_cpu_ms']:>6}  {r['errors']:>6}"
        )
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
