#!/usr/bin/env python3
"""Extractor throughput in rules mode, end to end, on real conversations.

Streams the LoCoMo conversations of ../shared/data (2,760 messages in 5
conversations of many sessions; every turn is sent as a `user` message so
every one goes through the rules) to a real daemon as session events, in
batches, from several clients at once, `--passes` times under new session
ids (later passes find their memories there already: the controller says
noop), and each session ends with `session.stopped`. A 429 (the extractor's
queue is full) is answered as a runtime would: the same events again after
`retry_after_ms`. The clock runs from the
first request to the moment `POST /api/memory/extractor/drain` answers: every
message stored in its ledger, extracted, and every candidate decided
(and written) by the controller.

    python scripts/bench_extract.py [--passes 3] [--clients 4] [--batch 20] [--json out.json]

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
# Writes are not rate limited here: the benchmark measures the pipeline.
CONFIG = "[controller.policy]\nmax_writes_per_min = 0\n"


def sessions(passes: int) -> list[tuple[str, list[str]]]:
    """(session id, messages) for every LoCoMo session, `passes` times."""
    out = []
    conversations = json.loads(DATA.read_text())
    for run in range(passes):
        for c, conversation in enumerate(conversations):
            for key, turns in conversation["conversation"].items():
                if key.startswith("session_") and isinstance(turns, list):
                    out.append((f"p{run}-c{c}-{key}", [t["text"] for t in turns if t.get("text")]))
    return out


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20, help="messages per events request")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()

    work = sessions(args.passes)
    total = sum(len(messages) for _, messages in work)
    with tempfile.TemporaryDirectory(prefix="aghmem-bench-extract-") as tmp:
        daemon = Daemon(Path(tmp) / "home", CONFIG, start_timeout=300)
        daemon.start()
        latencies: list[float] = []
        sent = [0]
        refused = [0]
        lock = threading.Lock()
        queue = list(work)

        def client() -> None:
            with httpx.Client(base_url=daemon.url, timeout=120) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        sid, messages = queue.pop(0)
                    for start in range(0, len(messages), args.batch):
                        chunk = messages[start : start + args.batch]
                        events = [
                            {"sequence": start + i + 1, "event_type": "message", "payload": {"role": "user", "content": text}}
                            for i, text in enumerate(chunk)
                        ]
                        if start + args.batch >= len(messages):
                            events.append({"sequence": len(messages) + 1, "event_type": "session.stopped", "payload": {}})
                        began = time.perf_counter()
                        while True:
                            response = http.post(f"/api/workspaces/_unbound/memory/sessions/{sid}/events", json={"events": events})
                            if response.status_code != 429:
                                break
                            # Backpressure: the extractor is behind; send the same events again.
                            with lock:
                                refused[0] += 1
                            time.sleep(response.json()["details"]["retry_after_ms"] / 1000)
                        response.raise_for_status()
                        with lock:
                            latencies.append((time.perf_counter() - began) * 1000)
                            sent[0] += len(chunk)
                            if sent[0] % 1000 < len(chunk):
                                log(f"  sent {sent[0]}/{total} messages")

        cpu_before = daemon.cpu_seconds()
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ingested = time.perf_counter() - started
        with httpx.Client(base_url=daemon.url, timeout=600) as http:
            drained = http.post("/api/memory/extractor/drain", json={"timeout_seconds": 300}).json()
        status = drained["extractor"]
        elapsed = time.perf_counter() - started
        cpu = daemon.cpu_seconds() - cpu_before
        memories = len([p for p in (Path(tmp) / "home" / "memory").glob("*.md") if p.name != "MEMORY.md"])
        daemon.stop(timeout=60)

    ordered = sorted(latencies)
    report = {
        "messages": total,
        "sessions": len(work),
        "passes": args.passes,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(total / elapsed, 1),
        "ingest_seconds": round(ingested, 2),
        "request_ms": {"p50": round(statistics.median(ordered), 2), "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 2)},
        "daemon_cpu_ms_per_message": round(cpu * 1000 / total, 3),
        "candidates": status["candidates"],
        "applied": status["applied"],
        "memories": memories,
        "failures": status["failure_count"],
        "dropped_turns": status["dropped_turns"],
        "refused_requests": refused[0],
        "drained": drained["remaining"] == 0,
    }
    print(f"{'messages':>8} {'seconds':>8} {'msg/s':>8} {'req p50':>8} {'req p99':>8} {'cand.':>6} {'applied':>8} {'dropped':>8} {'429s':>6}")
    print(f"{total:>8} {elapsed:>8.2f} {report['messages_per_s']:>8} {report['request_ms']['p50']:>7}ms {report['request_ms']['p99']:>7}ms "
          f"{report['candidates']:>6} {report['applied']:>8} {report['dropped_turns']:>8} {refused[0]:>6}")
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
