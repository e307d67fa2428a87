#!/usr/bin/env python3
"""Retrieval quality of aghmem's recall on LoCoMo (../shared/data).

Builds the evaluation with the shared tool (`make_eval.py build --type
project`), puts each conversation in a workspace of its own (the files are
copied in as a person would, then the workspace is registered), sends every
non-adversarial question to `POST /api/memory/search` (allow_trivial_query,
top_k 10, the conversation's workspace), and scores the ranked files with
the shared scorer: R@k, Hit@k, nDCG@10 and MRR, overall and per category.

Then two passes with the default search options (top_k 5, no flags), every
question including the adversarial ones:

- own: each question in its own conversation's workspace; "hit" is the
  share of questions with an evidence file among the results;
- cross: each question in the NEXT conversation's workspace (conv i asks
  conv i+1, so nothing relevant exists there); "non-empty" is the share of
  questions that got any result at all, "mean results" their mean count.
  Every result there is a false recall.

    python scripts/eval_locomo.py [--data ../shared/data] [--granularity turn] [--json out.json]
    python scripts/eval_locomo.py --sweep 0.0001,0.1,0.15,0.2

`--sweep` tunes `recall.min_evidence` from one run: the daemon runs with a
floor of 0.0001 (every result carries its evidence; only memories holding no
query term are dropped) and top_k 50; a floor t then keeps, in order, the
results with evidence ≥ t, which is what the daemon does (0.0001 is the run
itself). Runs differ by a few thousandths: exact BM25 ties are ordered by
the segment layout, which depends on when commits land.

Recall signals are off for the run: with them on, a query's results would
depend on which questions came before it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

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


def default_passes(http: httpx.Client, queries: list[dict], ids: dict[str, str]) -> dict[str, dict[str, dict[str, float]]]:
    """The own and cross passes (see the module docstring), per category."""
    convs = sorted(ids)
    other = {conv: convs[(i + 1) % len(convs)] for i, conv in enumerate(convs)}
    rows: dict[str, dict[str, list[tuple[int, int]]]] = {"own": {}, "cross": {}}
    for name, target in (("own", lambda c: c), ("cross", lambda c: other[c])):
        for i, q in enumerate(queries, 1):
            response = http.post("/api/memory/search", json={"query_text": q["query"], "workspace_id": ids[target(q["conversation"])]})
            response.raise_for_status()
            found = [r["memory"]["filename"] for r in response.json()["results"] if r["shadowed_by"] is None]
            relevant = {Path(f).name for f in q["relevant_filenames"]}
            hit = int(any(f in relevant for f in found))
            for group in ("all (excl. adversarial)" if q["category"] != "adversarial" else None, q["category"]):
                if group:
                    rows[name].setdefault(group, []).append((hit, len(found)))
            progress(f"{name} pass", i, len(queries))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, groups in rows.items():
        out[name] = {
            group: {
                "n": len(pairs),
                "hit": sum(h for h, _ in pairs) / len(pairs),
                "non_empty": sum(1 for _, n in pairs if n) / len(pairs),
                "mean_results": sum(n for _, n in pairs) / len(pairs),
            }
            for group, pairs in groups.items()
        }
    return out


def keep(results: list[tuple[str, float]], gate: float, floor: float, top_k: int) -> list[str]:
    """The first top_k filenames a floor keeps (0 keeps all), if the best of
    them reaches the gate (as the daemon decides)."""
    kept = [(f, ev or 0) for f, ev in results if floor == 0 or (ev or 0) >= floor][:top_k]
    if gate and not any(ev >= gate for _, ev in kept):
        return []
    return [f for f, _ in kept]


def sweep(http: httpx.Client, args: argparse.Namespace, queries: list[dict], ids: dict[str, str]) -> None:
    """Compare floors from one run at top_k 50 (see the module docstring)."""
    spec = importlib.util.spec_from_file_location("make_eval", args.data / "make_eval.py")
    assert spec and spec.loader
    make_eval = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_eval)
    convs = sorted(ids)
    other = {conv: convs[(i + 1) % len(convs)] for i, conv in enumerate(convs)}
    lists: dict[str, list[list[tuple[str, float]]]] = {"own": [], "cross": []}
    for name, target in (("own", lambda c: c), ("cross", lambda c: other[c])):
        for i, q in enumerate(queries, 1):
            body = {"query_text": q["query"], "workspace_id": ids[target(q["conversation"])], "top_k": 50}
            response = http.post("/api/memory/search", json=body)
            response.raise_for_status()
            lists[name].append([(r["memory"]["filename"], r["evidence"]) for r in response.json()["results"]])
            progress(f"{name} lists", i, len(queries))
    # "G" keeps results with evidence ≥ G; "G:K" answers only when the best
    # result reaches G, then keeps every result with evidence ≥ K.
    floors = [tuple(float(x) for x in (t.split(":") * 2)[:2]) for t in args.sweep.split(",")]
    print(f"{'min_evidence':>12s} {'R@5':>6s} {'R@10':>6s} {'MRR':>6s} {'own hit@5':>10s} {'cross >0':>9s} {'cross n':>8s} "
          f"{'adv own>0':>10s}   cross >0 by category")
    table = {}
    for gate, floor in floors:
        rows: dict[str, list[tuple[dict, float, float, int]]] = {}
        for q, own, cross in zip(queries, lists["own"], lists["cross"]):
            kept = keep(own, gate, floor, 10)
            crossed = keep(cross, gate, floor, 5)
            metrics = make_eval.metrics_for(q["relevant_filenames"], kept[:10], (1, 5, 10))
            relevant = {Path(f).name for f in q["relevant_filenames"]}
            hit5 = float(any(f in relevant for f in keep(own, gate, floor, 5)))
            groups = [q["category"]] + (["all"] if q["category"] != "adversarial" else [])
            for group in groups:
                rows.setdefault(group, []).append((metrics, hit5, bool(kept), len(crossed)))
        def mean(group: str, pick, rows=rows) -> float:
            return sum(pick(r) for r in rows[group]) / len(rows[group])
        label = f"{gate:g}" if gate == floor else f"{gate:g}:{floor:g}"
        table[label] = {g: {"R@5": mean(g, lambda r: r[0]["R@5"]), "R@10": mean(g, lambda r: r[0]["R@10"]),
                            "MRR": mean(g, lambda r: r[0]["MRR"]), "own_hit5": mean(g, lambda r: r[1]),
                            "own_non_empty": mean(g, lambda r: r[2]), "cross_non_empty": mean(g, lambda r: r[3] > 0),
                            "cross_mean": mean(g, lambda r: r[3])} for g in rows}
        a = table[label]["all"]
        by_cat = " ".join(f"{g[:6]} {table[label][g]['cross_non_empty']:.2f}" for g in rows if g != "all")
        print(f"{label:>12s} {a['R@5']:6.3f} {a['R@10']:6.3f} {a['MRR']:6.3f} {a['own_hit5']:10.3f} {a['cross_non_empty']:9.3f} "
              f"{a['cross_mean']:8.2f} {table[label]['adversarial']['own_non_empty']:10.3f}   {by_cat}")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))


def print_passes(passes: dict[str, dict[str, dict[str, float]]]) -> None:
    print("\ndefault options (top_k 5): own = questions in their own workspace, cross = in another one")
    print(f"{'subset':26s} {'n':>5s} {'own hit':>8s} {'own n':>6s} {'own >0':>7s} {'cross >0':>9s} {'cross n':>8s}")
    for group, own in passes["own"].items():
        cross = passes["cross"][group]
        print(f"{group:26s} {own['n']:5d} {own['hit']:8.3f} {own['mean_results']:6.2f} {own['non_empty']:7.3f} "
              f"{cross['non_empty']:9.3f} {cross['mean_results']:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--granularity", default="turn", choices=["turn", "session", "observation"])
    parser.add_argument("--json", help="write the scorer's JSON summary here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (prints its path)")
    parser.add_argument("--extra-config", default="", help="TOML appended to the daemon's config (\\n for newlines)")
    parser.add_argument("--no-default-passes", action="store_true", help="skip the own/cross passes with default options")
    parser.add_argument("--sweep", help="comma-separated min_evidence values to compare (see above)")
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
        every_query = [json.loads(line) for line in (eval_dir / "queries.jsonl").read_text().splitlines() if line.strip()]
        queries = [q for q in every_query if q["category"] != "adversarial"]

        # One workspace per conversation, its files copied in by hand.
        workspaces: dict[str, Path] = {}
        for conv_dir in sorted((eval_dir / "memories").iterdir()):
            root = tmp / "workspaces" / conv_dir.name
            shutil.copytree(conv_dir, root / ".agh" / "memory")
            workspaces[conv_dir.name] = root
        files = sum(1 for root in workspaces.values() for _ in (root / ".agh" / "memory").glob("*.md"))

        extra = args.extra_config.replace("\\n", "\n")
        if args.sweep:
            extra += "\n[recall]\nmin_evidence = 0.0001\n"
        daemon = Daemon(tmp / "home", CONFIG + extra, start_timeout=300)
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

                if args.sweep:
                    sweep(http, args, every_query, ids)
                    return
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
                passes = {} if args.no_default_passes else default_passes(http, every_query, ids)
        finally:
            daemon.stop(timeout=60)

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
        if passes:
            print_passes(passes)
            if args.json:
                summary = json.loads(Path(args.json).read_text())
                summary["default_passes"] = passes
                Path(args.json).write_text(json.dumps(summary, indent=2))
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
