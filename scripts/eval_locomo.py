#!/usr/bin/env python3
"""Retrieval quality of aghmem's recall on LoCoMo (../shared/data).

Builds the evaluation with the shared tool (`make_eval.py build --type
project`), puts each conversation in a workspace of its own (the files are
copied in as a person would, then the workspace is registered), sends every
non-adversarial question to `POST /api/memory/search` (allow_trivial_query,
top_k 10, the conversation's workspace), and scores the ranked files with
the shared scorer: R@k, Hit@k, nDCG@10 and MRR, overall and per category.

    python scripts/eval_locomo.py [--data ../shared/data] [--granularity turn] [--json out.json]

Recall signals are off for the run: with them on, a query's results would
depend on which questions came before it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from daemon import Daemon

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"

CONFIG = """
[controller.policy]
max_writes_per_min = 0
[recall.signals]
metrics_enabled = false
"""


def progress(label: str, done: int, total: int) -> None:
    if done % max(1, total // 20) == 0 or done == total:
        print(f"\r  {label}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--granularity", default="turn", choices=["turn", "session", "observation"])
    parser.add_argument("--json", help="write the scorer's JSON summary here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (prints its path)")
    parser.add_argument("--extra-config", default="", help="TOML appended to the daemon's config (\\n for newlines)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aghmem-locomo-"))
    try:
        eval_dir = tmp / "eval"
        print("building the evaluation…", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(args.data / "make_eval.py"), "build", "--out", str(eval_dir),
             "--type", "project", "--granularity", args.granularity],
            check=True, stdout=subprocess.DEVNULL,
        )
        queries = [json.loads(line) for line in (eval_dir / "queries.jsonl").read_text().splitlines() if line.strip()]
        queries = [q for q in queries if q["category"] != "adversarial"]

        # One workspace per conversation, its files copied in by hand.
        workspaces: dict[str, Path] = {}
        for conv_dir in sorted((eval_dir / "memories").iterdir()):
            root = tmp / "workspaces" / conv_dir.name
            shutil.copytree(conv_dir, root / ".agh" / "memory")
            workspaces[conv_dir.name] = root
        files = sum(1 for root in workspaces.values() for _ in (root / ".agh" / "memory").glob("*.md"))

        daemon = Daemon(tmp / "home", CONFIG + args.extra_config.replace("\\n", "\n"))
        daemon.start()
        try:
            with httpx.Client(base_url=daemon.url, timeout=120) as http:
                ids: dict[str, str] = {}
                started = time.perf_counter()
                for i, (conv, root) in enumerate(workspaces.items(), 1):
                    response = http.post("/api/workspaces", json={"path": str(root)})
                    response.raise_for_status()
                    ids[conv] = response.json()["workspace"]["id"]
                    progress("workspaces registered", i, len(workspaces))
                health = http.get("/api/memory/health").json()
                print(f"  indexed {health['indexed_files']} of {files} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)

                run = []
                latencies = []
                for i, q in enumerate(queries, 1):
                    t0 = time.perf_counter()
                    response = http.post(
                        "/api/memory/search",
                        json={
                            "query_text": q["query"],
                            "workspace_id": ids[q["conversation"]],
                            "allow_trivial_query": True,
                            "top_k": 10,
                        },
                    )
                    latencies.append(time.perf_counter() - t0)
                    response.raise_for_status()
                    ranked = [r["memory"]["filename"] for r in response.json()["results"] if r["shadowed_by"] is None]
                    run.append({"qid": q["qid"], "query": q["query"], "ranked_filenames": ranked})
                    progress("queries", i, len(queries))
        finally:
            daemon.stop()

        run_path = tmp / "run.jsonl"
        run_path.write_text("".join(json.dumps(line) + "\n" for line in run))
        score_cmd = [sys.executable, str(args.data / "make_eval.py"), "score",
                     "--queries", str(eval_dir / "queries.jsonl"), "--run", str(run_path)]
        if args.json:
            score_cmd += ["--json", args.json]
        subprocess.run(score_cmd, check=True)
        latencies.sort()
        print(f"\nsearch latency over HTTP: p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms ({len(latencies)} queries)")
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
