#!/usr/bin/env python3
"""The hook round trip, as a runtime sees it.

A real daemon holds --memories memories (half global, half in one
workspace) and one transcript of --turns turns in its transcript root. Then,
--runs times each:

- `python -c pass`: the interpreter's own start, for scale;
- `cli down`: `aghmem hook user-prompt-submit` as a process, daemon down
  (nothing listens on the port): start, fail open, exit;
- `cli prompt`: the same with the daemon up, a prompt that recalls (a new
  session each run, so memories are injected every time);
- `cli stop`: `aghmem hook stop` with the daemon up (the transcript is
  read once; later runs find nothing new);
- `http prompt`, `http stop`: the daemon's `POST /api/hooks/claude` over
  one kept-alive connection, as Claude Code's http hooks call it.

Process times are wall clock from spawn to exit, stdin written and stdout
read, and the process's CPU time (less moved by a busy machine). Budgets
(INTEGRATIONS §2): ≤ 0.3 s daemon down, ≤ 1.5 s up.

    python scripts/bench_hooks.py [--runs 50] [--memories 500] [--turns 400] [--json out.json]

Progress on stderr; a table and a JSON document on stdout. The numbers
depend on whether Python may cache bytecode (PYTHONDONTWRITEBYTECODE), so
the document says which.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's aghmem, not the copy an editable install points at
from aghmem.testing import Daemon  # noqa: E402

SEED = 11
TOPICS = ["billing", "deploy", "postgres", "kafka", "redis", "nginx", "terraform", "pytest", "webpack", "grafana"]
WORDS = "service release port cluster schema migration cache queue worker token budget rollout canary index".split()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, times: list[float], answered: int, cpu: list[float]) -> dict[str, Any]:
    return {
        "case": name,
        "runs": len(times),
        "answered": answered,  # runs that printed (or returned) context
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(percentile(times, 0.99) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        # The process's own CPU time (user + system): what a busy machine
        # changes least. None for the HTTP cases (no process).
        "cpu_p50_ms": round(statistics.median(cpu) * 1000, 1) if cpu else None,
    }


def seed(daemon: Daemon, project: Path, count: int) -> str:
    rng = random.Random(SEED)
    ws = daemon.workspace(project)
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        body = f"The {topic} {' '.join(rng.sample(WORDS, 6))} note {n}: " + " ".join(rng.choices(WORDS, k=40))
        scope = {"type": "project", "workspace_id": ws} if n % 2 else {"type": "user"}
        daemon.write(**scope, name=f"{topic.title()} note {n}", content=body)
    return ws


def transcript(path: Path, turns: int) -> None:
    rng = random.Random(SEED)
    with open(path, "w") as out:
        for n in range(turns):
            role = "user" if n % 2 == 0 else "assistant"
            content: Any = " ".join(rng.choices(WORDS, k=25))
            if role == "assistant":
                content = [{"type": "text", "text": content}]
            out.write(json.dumps({"type": role, "message": {"role": role, "content": content}, "uuid": f"u{n}"}) + "\n")


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("aghmem")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aghmem"]


CHILD_CPU: list[float] = []  # CPU seconds of each process run, in order


def timed_process(command: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, bytes]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, input=stdin, capture_output=True, env=env, cwd=ROOT, timeout=60)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CHILD_CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{command} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return elapsed, done.stdout


def repeat(name: str, runs: int, once: Callable[[int], tuple[float, bool]]) -> dict[str, Any]:
    times, answered, first_cpu = [], 0, len(CHILD_CPU)
    for n in range(runs):
        elapsed, said = once(n)
        times.append(elapsed)
        answered += said
        if (n + 1) % max(1, runs // 10) == 0 or n + 1 == runs:
            print(f"  {name}: {n + 1}/{runs}", file=sys.stderr, flush=True)
    return summary(name, times, answered, CHILD_CPU[first_cpu:])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cases(daemon: Daemon, project: Path, transcript_path: Path, runs: int) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    up = {**env, "AGHMEM_URL": daemon.url}
    down = {**env, "AGHMEM_URL": f"http://127.0.0.1:{closed_port()}"}
    hook = cli_command() + ["hook"]

    def prompt(n: int) -> bytes:
        topic = TOPICS[n % len(TOPICS)]
        return json.dumps({
            "session_id": f"bench-{n}", "transcript_path": str(transcript_path), "cwd": str(project), "permission_mode": "default",
            "hook_event_name": "UserPromptSubmit", "prompt": f"Which {topic} service release migration and cache queue rollout?",
        }).encode()

    stop = json.dumps({
        "session_id": "bench-stop", "transcript_path": str(transcript_path), "cwd": str(project), "hook_event_name": "Stop",
        "stop_hook_active": False, "last_assistant_message": "done",
    }).encode()
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)

    def http_call(body: bytes) -> tuple[float, bool]:
        started = time.perf_counter()
        connection.request("POST", "/api/hooks/claude", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, data
        return elapsed, data != b"{}"

    def process(command: list[str], stdin: bytes, environment: dict[str, str]) -> tuple[float, bool]:
        elapsed, out = timed_process(command, stdin, environment)
        return elapsed, bool(out)

    cases = [
        repeat("python -c pass", runs, lambda n: process([sys.executable, "-c", "pass"], b"", env)),
        repeat("cli down", runs, lambda n: process(hook + ["user-prompt-submit"], prompt(n), down)),
        repeat("cli prompt", runs, lambda n: process(hook + ["user-prompt-submit"], prompt(n + runs), up)),
        repeat("cli stop", runs, lambda n: process(hook + ["stop"], stop, up)),
        repeat("http prompt", runs, lambda n: http_call(prompt(n + 2 * runs))),
        repeat("http stop", runs, lambda n: http_call(stop)),
    ]
    connection.close()
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="runs of each case (default 50)")
    parser.add_argument("--memories", type=int, default=500, help="memories in the daemon (default 500)")
    parser.add_argument("--turns", type=int, default=400, help="turns in the transcript (default 400)")
    parser.add_argument("--json", help="also write the JSON result to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aghmem-bench-") as tmp:
        roots = Path(tmp) / "transcripts"
        roots.mkdir()
        config = f'[controller.policy]\nmax_writes_per_min = 0\n[hooks]\ntranscript_roots = ["{roots}"]\n'
        daemon = Daemon(Path(tmp) / "home", config, start_timeout=300).start()
        try:
            print(f"writing {args.memories} memories…", file=sys.stderr, flush=True)
            project = Path(tmp) / "project"
            seed(daemon, project, args.memories)
            transcript(roots / "bench.jsonl", args.turns)
            results = run_cases(daemon, project, roots / "bench.jsonl", args.runs)
        finally:
            daemon.stop(timeout=60)

    document = {
        "benchmark": "hooks",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_average": os.getloadavg()},
        "bytecode_cache": not os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "memories": args.memories,
        "transcript_turns": args.turns,
        "results": results,
    }
    header = f"{'case':<15}  {'runs':>5}  {'answered':>8}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  {'cpu p50 ms':>10}"
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = "-" if r["cpu_p50_ms"] is None else r["cpu_p50_ms"]
        print(f"{r['case']:<15}  {r['runs']:>5}  {r['answered']:>8}  {r['p50_ms']:>7}  {r['p99_ms']:>7}  {r['max_ms']:>7}  {cpu:>10}")
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
