#!/usr/bin/env python3
"""CPU instructions per search and per write, counted by valgrind.

Wall-clock numbers on these shared machines swing by ±10-25% within
minutes, so a change worth 3% cannot be seen in them. The instructions a
search or a write executes in user space (Python, SQLite, Tantivy) are the
same from run to run to within ~0.1%: this script counts them with
callgrind, as the difference between a run of K operations and a run of
none (start-up, warm-up and shutdown cancel out), divided by K.

- search: `MemoryService.search` in process over bench_search.py's corpus
  (N memories, half global, half in one workspace), `top_k` 10, the
  default pipeline;
- write: `MemoryService.submit` of K adds then K updates from one thread
  in a fresh home (the committer's whole path, watcher running). The
  kernel's share (fsync, rename) is not counted: this measures the code.

Compare two commits by running this from each checkout; the counts do not
depend on the machine's mood (they do on the Python, SQLite and Tantivy
builds, so compare on one machine).

    python scripts/bench_instructions.py [--memories 5000] [--searches 200] [--writes 200] [--syscalls] [--json out.json]

To weigh a setting, `--raw-candidates N` (DESIGN §7's default: 50) and
`--extra-config TOML` (appended to the search home's config, as
eval_locomo.py takes it) change what the searches run with.

`--syscalls` also counts the system calls of a write the same way, by
name (`strace -f -c`: every thread, the watcher's and the index's too): the
kernel's share of a write is mostly calls, and their count does not
depend on the machine's mood either.

Needs valgrind (Debian: apt-get install valgrind). Each count runs the
operations under callgrind (~50× slower): a few minutes in all. Progress on
stderr; a table and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

WS_ID = "ws_benchinstr1"
WARM_UP = 50


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the operations (run in a child process, under callgrind) --------------


def run_searches(home: Path, count: int, raw_candidates: int) -> None:
    from bench_search import Corpus

    from aghmem.config import load_config
    from aghmem.features.recall import SearchRequest
    from aghmem.model import Scope, Selector
    from aghmem.service.service import MemoryService

    service = MemoryService(load_config(home / "config.toml", home=home, env={}))
    service.start(watch=False)
    corpus = Corpus(seed=11)
    selector = Selector(Scope.WORKSPACE, workspace_id=WS_ID)
    requests = [
        SearchRequest(query_text=corpus.query(), selector=selector, top_k=10, raw_candidates=raw_candidates, allow_trivial_query=True)
        for _ in range(WARM_UP + count)
    ]
    for request in requests:
        service.search(request)
    service.close()


def run_writes(home: Path, count: int) -> None:
    from aghmem.config import load_config
    from aghmem.controller.rules import Candidate
    from aghmem.model import MemoryType, Scope, Selector
    from aghmem.service.service import MemoryService

    service = MemoryService(load_config(home=home, env={}))
    service.start(watch=True)
    selector = Selector(Scope.GLOBAL)
    total = WARM_UP + count
    for phase in ("add", "update"):
        for i in range(total):
            body = (
                f"Memory {i} ({phase}): the team deploys service {i % 97} with blue-green releases "
                f"and keeps rollback scripts under ops/rollback/{i % 13}."
            )
            candidate = Candidate(selector, "http", type=MemoryType.USER, name=f"Bench {i}", description="benchmark memory", body=body)
            service.submit(candidate)
    service.close()


def child(kind: str, home: Path, count: int, raw_candidates: int) -> None:
    if kind == "search":
        run_searches(home, count, raw_candidates)
    else:
        run_writes(home, count)


# --- the counting (this process) -------------------------------------------


def run_child(wrapper: list[str], kind: str, home: Path, count: int) -> subprocess.CompletedProcess[str]:
    """This script's child (`count` operations) under `wrapper`, with a
    progress line every 15 s."""
    command = [*wrapper, sys.executable, str(Path(__file__).resolve()), "--child", kind, "--home", str(home), "--count", str(count)]
    command += ["--raw-candidates", str(RAW_CANDIDATES)]
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(15):
            log(f"    … {time.monotonic() - started:.0f}s")

    threading.Thread(target=tick, daemon=True).start()
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        done.set()
    if result.returncode != 0:
        raise SystemExit(f"{wrapper[0]} run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def instructions(kind: str, home: Path, count: int) -> Counter[str]:
    """User-space instructions of a child that runs `count` operations."""
    result = run_child(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"], kind, home, count)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{result.stderr[-3000:]}")
    return Counter(instructions=int(found.group(1)))


def syscalls(kind: str, home: Path, count: int) -> Counter[str]:
    """System calls of a child that runs `count` operations, by name (all
    its threads; `strace -c`)."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as out:
        run_child(["strace", "-f", "-c", "-o", out.name], kind, home, count)
        calls: Counter[str] = Counter()
        for line in out:
            fields = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                calls[fields[-1]] = int(fields[3])
        return calls


def per_operation(kind: str, prepare, count: int, operations: int, measure) -> tuple[dict[str, float], Counter[str]]:  # noqa: ANN001
    """((what `measure` counts in a run of `count` - in a run of none) /
    the `operations` that `count` makes, by name; the run of none's counts)."""
    runs = {}
    for k in (0, count):
        home = prepare()
        log(f"  {kind}: counting a run of {k} under {measure.__name__}…")
        runs[k] = measure(kind, home, k)
    return {name: (runs[count][name] - runs[0][name]) / operations for name in runs[count]}, runs[0]


def instructions_each(kind: str, prepare, count: int, operations: int) -> dict[str, int]:  # noqa: ANN001
    each, baseline = per_operation(kind, prepare, count, operations, instructions)
    return {"count": operations, "instructions_each": round(each["instructions"]), "baseline_instructions": baseline["instructions"]}


def syscalls_each(kind: str, prepare, count: int, operations: int) -> dict[str, Any]:  # noqa: ANN001
    each, _ = per_operation(kind, prepare, count, operations, syscalls)
    top = sorted(each.items(), key=lambda item: -item[1])
    return {"count": operations, "syscalls_each": round(sum(each.values()), 1), "by_name": {n: round(v, 2) for n, v in top if v >= 0.5}}


RAW_CANDIDATES = 50  # what the searches ask for (--raw-candidates)


def main() -> None:
    global RAW_CANDIDATES
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=200, help="0: skip")
    parser.add_argument("--writes", type=int, default=200, help="adds, then as many updates; 0: skip")
    parser.add_argument("--syscalls", action="store_true", help="also count system calls per write (strace)")
    parser.add_argument("--raw-candidates", type=int, default=50, help="candidates per view a search asks for")
    parser.add_argument("--extra-config", default="", help="TOML appended to the search home's config (\\n for newlines)")
    parser.add_argument("--json", help="also write the JSON result here")
    parser.add_argument("--child", choices=["search", "write"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    RAW_CANDIDATES = args.raw_candidates
    if args.child:
        child(args.child, args.home, args.count, args.raw_candidates)
        return
    for tool, wanted in (("valgrind", True), ("strace", args.syscalls)):
        if wanted and shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install {tool})")

    from bench_search import CONFIG, write_home

    from aghmem.config import load_config
    from aghmem.service.service import MemoryService

    document: dict[str, object] = {"benchmark": "instructions", "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory(prefix="aghmem-bench-instr-") as tmp:
        base = Path(tmp)
        if args.searches:
            home = write_home(base / "search", args.memories, WS_ID)
            (home / "config.toml").write_text(CONFIG + args.extra_config.replace("\\n", "\n") + "\n")
            log("building the index once, outside callgrind…")
            service = MemoryService(load_config(home / "config.toml", home=home, env={}))
            service.start(watch=False)
            service.close()
            document["memories"] = args.memories
            document["raw_candidates"], document["extra_config"] = args.raw_candidates, args.extra_config
            document["search"] = instructions_each("search", lambda: home, args.searches, args.searches)
        if args.writes:
            homes = iter(range(4))

            def fresh_home() -> Path:
                home = base / f"write{next(homes)}" / "home"
                home.mkdir(parents=True)
                (home / "config.toml").write_text("[controller.policy]\nmax_writes_per_min = 0\n")
                return home

            document["write"] = instructions_each("write", fresh_home, args.writes, 2 * args.writes)  # K adds, K updates
            if args.syscalls:
                document["write_syscalls"] = syscalls_each("write", fresh_home, args.writes, 2 * args.writes)

    print(f"{'operation':10} {'count':>6} {'instructions each':>18}")
    for kind in ("search", "write"):
        if kind in document:
            row = document[kind]
            print(f"{kind:10} {row['count']:>6} {row['instructions_each']:>18,}")
    if "write_syscalls" in document:
        row = document["write_syscalls"]
        names = ", ".join(f"{name} {calls}" for name, calls in list(row["by_name"].items())[:8])
        print(f"system calls per write: {row['syscalls_each']} ({names})")
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
