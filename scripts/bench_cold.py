#!/usr/bin/env python3
"""Cold start in-process: where taking a tree of files in spends its time.

Writes N memories (bench_search.py's corpus: half global, half in one
workspace) once, then for each round copies them into a fresh home and
starts a MemoryService on it (no watcher), timing its two phases apart:

- scan: `Runtime.rescan` (lstat, read, parse, intake check, catalog upsert);
- index: `Indexing.catch_up` (the cold rebuild: analysis, Tantivy writer).

Reports median wall seconds of each, files/s, and the CPU seconds of this
process and of its finished children (the helper processes') over the start, and
this process's CPU over the start by thread (the main thread, Tantivy's
indexer and merger threads…).

    python scripts/bench_cold.py --memories 5000 --rounds 3 [--json out.json]

Progress on stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
# aghmem and bench_search are imported where used: the index's worker
# processes import this script again (as multiprocessing's spawn does with
# a main module run by path), and a worker must stay light.

WS_ID = "ws_benchcold1"


def timed_method(owner: object, name: str, spent: dict[str, float]) -> None:
    """Wrap owner.name so each call adds its wall time to spent[name]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    setattr(owner, name, wrapper)


def cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def thread_cpu() -> dict[tuple[int, str], float]:
    """CPU seconds of each of this process's threads by (id, name), from
    Linux /proc: the main thread, Tantivy's indexing and merging threads…"""
    spent: dict[tuple[int, str], float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            name = re.sub(r"[0-9]+$", "", (task / "comm").read_text().strip())
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        spent[(int(task.name), name)] = (int(fields[11]) + int(fields[12])) / tick
    return spent


def by_name(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float]) -> dict[str, float]:
    """What each thread name spent between the two readings."""
    spent: dict[str, float] = {}
    for (tid, name), seconds in after.items():
        spent[name] = spent.get(name, 0.0) + seconds - before.get((tid, name), 0.0)
    return spent


def one_round(source: Path, work: Path) -> dict[str, float]:
    from aghmem.config import load_config
    from aghmem.service.service import MemoryService

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    from bench_search import register_workspace

    home = work / "home"
    register_workspace(home, work / "workspace", WS_ID)  # where this round's copy is
    service = MemoryService(load_config(home / "config.toml", home=home, env={}))
    spent: dict[str, float] = {}
    timed_method(service.runtime, "rescan", spent)
    timed_method(service.runtime.indexing, "catch_up", spent)
    cpu0, threads0, t0 = cpu(), thread_cpu(), time.perf_counter()
    service.start(watch=False)
    total, cpu1 = time.perf_counter() - t0, cpu()
    threads = by_name(threads0, thread_cpu())  # before close(): Tantivy's threads still exist
    docs = service.runtime.indexing.index.num_docs()
    service.close()
    return {
        "total_s": total,
        "scan_s": spent.get("rescan", 0.0),
        "index_s": spent.get("catch_up", 0.0),
        "cpu_self_s": cpu1[0] - cpu0[0],
        "cpu_children_s": cpu1[1] - cpu0[1],
        "docs": docs,
        **{f"cpu_thread_{name}_s": seconds for name, seconds in threads.items() if seconds >= 0.05},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the JSON result here")
    args = parser.parse_args()
    from bench_search import CONFIG, log, write_corpus

    with tempfile.TemporaryDirectory(prefix="aghmem-bench-cold-") as tmp:
        source = Path(tmp) / "source"
        log(f"writing {args.memories} memory files…")
        write_corpus(args.memories, source / "home" / "memory", source / "workspace" / ".agh" / "memory")
        (source / "workspace" / ".agh" / "workspace.toml").write_text(f'id = "{WS_ID}"\n')
        (source / "home" / "config.toml").write_text(CONFIG)
        rounds = []
        for number in range(args.rounds):
            result = one_round(source, Path(tmp) / "work")
            log(f"  round {number + 1}: {result['total_s']:.2f}s (scan {result['scan_s']:.2f}s, index {result['index_s']:.2f}s)")
            assert result["docs"] == args.memories, result
            rounds.append(result)

    keys = sorted({key for r in rounds for key in r}, key=lambda k: (k.startswith("cpu_thread"), k))
    median = {key: round(statistics.median(r.get(key, 0.0) for r in rounds), 3) for key in keys}
    document = {
        "benchmark": "bench_cold",
        "memories": args.memories,
        "rounds": args.rounds,
        "median": median,
        "files_per_s": round(args.memories / median["total_s"]),
        "scan_files_per_s": round(args.memories / median["scan_s"]),
        "index_files_per_s": round(args.memories / median["index_s"]) if median["index_s"] else None,
    }
    print(f"memories {args.memories}, {args.rounds} rounds (medians)")
    print(f"cold start   {median['total_s']} s  ({document['files_per_s']} files/s)")
    print(f"  scan       {median['scan_s']} s  ({document['scan_files_per_s']} files/s)")
    print(f"  index      {median['index_s']} s  ({document['index_files_per_s'] or '-'} files/s)")
    print(f"  cpu        {median['cpu_self_s']} s here + {median['cpu_children_s']} s in workers")
    threads = ", ".join(f"{k[11:-2]} {v}" for k, v in median.items() if k.startswith("cpu_thread_"))
    print(f"  here by thread: {threads}")
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
