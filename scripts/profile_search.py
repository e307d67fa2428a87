#!/usr/bin/env python3
"""Where a search's time goes: the recall pipeline profiled in-process.

Builds the same corpus as bench_search.py (N memories, half global, half in
one workspace), starts a MemoryService on it in this process, then runs the
same queries three ways and reports median/p99 of each:

- raw: Tantivy alone, the word view's query over the visible scopes
  (the floor every other number is compared with);
- service: MemoryService.search, the whole pipeline (both lexical views,
  fusion, floor, package) without HTTP;
- the first search after a commit against the three after it (what a
  write costs the searches that follow it);
- the pipeline by stage: wall time per search in each step of the
  pipeline (the two views, fusion, the floor's judging and its term-mask
  query, the catalog read, the package...), timed around each call, so
  what is left over is the search's own lines;
- then the pipeline again under cProfile, printing the functions that take
  the most time (own time and cumulative), so a change can aim at them.

    python scripts/profile_search.py --memories 20000 [--queries 2000] [--json out.json]

Progress on stderr; tables and a JSON document on stdout.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import io
import itertools
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from bench_search import CONFIG, Corpus, log, percentile, write_home  # noqa: E402

from aghmem.config import load_config  # noqa: E402
from aghmem.features.recall import SearchRequest  # noqa: E402
from aghmem.model import Scope, Selector  # noqa: E402
from aghmem.service.service import MemoryService  # noqa: E402
from aghmem.storage import analysis  # noqa: E402
from aghmem.storage.snapshot import Snapshot  # noqa: E402
from aghmem.storage.tantivy_index import IndexDoc, SearchIndex  # noqa: E402

WS_ID = "ws_benchsearch1"


def timed(fn, items) -> list[float]:  # noqa: ANN001
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t0)
    return out


def stats(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(latencies) * 1000, 3), "p99_ms": round(percentile(latencies, 0.99) * 1000, 3)}


def after_commits(service: MemoryService, requests: list[SearchRequest], rounds: int) -> tuple[list[float], list[float]]:
    """(the first search after each commit, the three after it): what a
    write costs the searches that follow it (a new searcher, its caches)."""
    index = service.runtime.indexing.index
    first: list[float] = []
    later: list[float] = []
    queue = itertools.cycle(requests)  # however few were asked for
    for n in range(rounds):
        index.stage([IndexDoc(f"mem_aftercommit{n}", "global", f"user_after_commit_{n}.md", 1, f"filler text {n}")])
        index.flush()  # as the committer does a moment after a write
        first += timed(service.search, [next(queue)])
        later += timed(service.search, [next(queue) for _ in range(3)])
    return first, later


# (owner, attribute, label): the pipeline's steps, timed around each call.
# Nested ones (a view's search inside `_views`, the mask query inside
# `_top`) are shown indented and not added to the total again.
def stage_points(service: MemoryService) -> list[tuple[object, str, str, bool]]:
    recall = service.runtime.recall
    return [
        (recall, "_views", "both views (word view on the other thread)", True),
        (SearchIndex, "view_query", "  building a view's query", False),
        (Snapshot, "top", "  Tantivy searches + hits (both views, overlapping)", False),
        (recall, "_fused", "fusion: candidates scored and sorted", True),
        (recall, "_floor", "the floor's set-up (term weights)", True),
        (recall, "_top", "top_k: floor judging, shadowing", True),
        (SearchIndex, "term_masks", "  the floor's term-mask query", False),
        (recall.catalog, "entries_with_text", "catalog: the results' rows and text", True),
        (recall, "_why", "why_recalled of each result", True),
        (recall, "_package", "package: results, blocks, budget, signal", True),
    ]


@contextlib.contextmanager
def timing_stages(points: list[tuple[object, str, str, bool]], spent: dict[str, list[int]]):  # noqa: ANN201
    """Wrap each point's callable so its wall time (ns) is added to `spent`."""
    saved = []
    for owner, name, label, _ in points:
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))

        def timed_call(*args, __original=original, __label=label, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            start = time.perf_counter_ns()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label].append(time.perf_counter_ns() - start)

        setattr(owner, name, timed_call)
    try:
        yield
    finally:
        for owner, name, original, own in saved:
            if isinstance(owner, type) or own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # was the class's method: it shows again


def stages(service: MemoryService, requests: list[SearchRequest]) -> tuple[float, list[tuple[str, float]]]:
    """(mean µs a search, [(stage, mean µs a search)]) with the stages
    timed; the rest is the search's own lines (terms, stems, the loop over
    the results)."""
    points = stage_points(service)
    spent: dict[str, list[int]] = collections.defaultdict(list)
    total = 0
    with timing_stages(points, spent):
        for req in requests:
            start = time.perf_counter_ns()
            service.search(req)
            total += time.perf_counter_ns() - start
    each = total / len(requests) / 1000
    rows = [(label, sum(spent[label]) / len(requests) / 1000) for _, _, label, _ in points]
    counted = sum(us for (_, _, _, top), (_, us) in zip(points, rows) if top)
    return each, [*rows, ("the rest (the search's own lines)", each - counted)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25, help="functions to list per table")
    parser.add_argument("--json", help="also write the JSON result here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aghmem-profile-search-") as tmp:
        home = write_home(Path(tmp), args.memories, WS_ID)
        (home / "config.toml").write_text(CONFIG)
        service = MemoryService(load_config(home / "config.toml", home=home, env={}))
        log("taking the files in…")
        t0 = time.perf_counter()
        service.start(watch=False)
        log(f"  ready in {time.perf_counter() - t0:.1f}s")

        corpus = Corpus(seed=11)
        texts = [corpus.query() for _ in range(args.queries)]
        selector = Selector(Scope.WORKSPACE, workspace_id=WS_ID)
        requests = [
            SearchRequest(query_text=t, selector=selector, top_k=10, raw_candidates=50, allow_trivial_query=True) for t in texts
        ]
        index = service.runtime.indexing.index
        keys = [s.key for s in selector.visible_scopes()]

        def raw(text: str) -> None:
            terms = analysis.query_terms(text)
            index.search({"words": terms, "stems": analysis.stems(terms)}, keys, 50)

        log("warming up…")
        for req in requests[:200]:
            service.search(req)
        log(f"raw Tantivy, {len(texts)} queries…")
        raw_lat = timed(raw, texts)
        log(f"service.search, {len(requests)} queries…")
        service_lat = timed(service.search, requests)
        log("after a commit: a staged document committed, then four searches, 60 times…")
        first_lat, later_lat = after_commits(service, requests, rounds=60)
        log("the pipeline by stage…")
        staged_each, staged = stages(service, requests)
        log("service.search under cProfile…")
        profiler = cProfile.Profile()
        profiler.enable()
        for req in requests:
            service.search(req)
        profiler.disable()
        service.close()

    document = {
        "benchmark": "profile_search",
        "memories": args.memories,
        "queries": args.queries,
        "raw_tantivy": stats(raw_lat),
        "service_search": stats(service_lat),
        "ratio_p50": round(statistics.median(service_lat) / statistics.median(raw_lat), 1),
        "first_after_commit": stats(first_lat),
        "later_after_commit": stats(later_lat),
        "stages_us": {"search_mean": round(staged_each, 1), **{label.strip(): round(us, 1) for label, us in staged}},
    }
    print(f"memories {args.memories}, {args.queries} queries")
    print(f"raw Tantivy (word view)   p50 {document['raw_tantivy']['p50_ms']} ms  p99 {document['raw_tantivy']['p99_ms']} ms")
    print(f"service.search (pipeline) p50 {document['service_search']['p50_ms']} ms  p99 {document['service_search']['p99_ms']} ms"
          f"  ({document['ratio_p50']}× raw)")
    first, later = document["first_after_commit"], document["later_after_commit"]
    print(f"after a commit: first search p50 {first['p50_ms']} ms, the next three p50 {later['p50_ms']} ms")
    print(f"\nby stage (mean µs a search, {staged_each:.0f} µs in all with the timers on):")
    for label, us in staged:
        print(f"  {label:<52} {us:7.0f}")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(f"\n--- by {key} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    print(json.dumps(document, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
