#!/usr/bin/env python3
"""How far one API write travels: calls between aghmem's modules.

Runs the daemon's app in-process (a fresh HOME, no network), sends a few
writes to warm it up, then profiles one `POST /api/memory` from the request
to the response and counts:

- stops: calls from one aghmem module into another;
- modules: the distinct modules those calls reach;
- climbs: calls into a module of a higher layer (faces → service →
  features → controller → storage → root): a lower layer calling back up,
  through a closure or a listener.

    python scripts/trace_write.py [--json out.json] [--calls]

`--calls` also prints each cross-module call, indented by depth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*httpx2")
from starlette.testclient import TestClient  # noqa: E402

from aghmem import MemoryService, load_config  # noqa: E402

LAYERS = ["root", "storage", "controller", "features", "service", "faces"]
# Where each module of the flat package (before the regrouping) belongs.
FLAT = {
    "model": "root", "config": "root", "errors": "root", "faults": "root", "clock": "root",
    "files": "storage", "layout": "storage", "memory_index": "storage", "catalog": "storage",
    "schema": "storage", "index": "storage", "analysis": "storage", "lockfile": "storage",
    "controller": "controller", "rules": "controller", "scan": "controller", "decisions": "controller",
    "intake": "controller",
    "sync": "features", "indexing": "features", "recall": "features", "relevance": "features",
    "signals": "features", "daily": "features", "sessions": "features", "providers": "features",
    "tiebreak": "features", "dream": "features", "dreaming": "features", "dream_store": "features",
    "extractor": "features", "extract_rules": "features",
    "service": "service", "health": "service", "scheduler": "service",
    "inputs": "faces", "api": "faces", "cli": "faces", "client": "faces", "server": "faces",
}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:] or ["root"]
    if parts[0] in LAYERS:
        return parts[0]
    return FLAT.get(parts[0], FLAT.get(parts[0].split("_")[0], "root"))


class Tracer:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str, str]] = []  # depth, caller, callee, function
        self.active = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not self.active:
            return
        callee = frame.f_globals.get("__name__", "")
        caller_frame = frame.f_back
        caller = caller_frame.f_globals.get("__name__", "") if caller_frame else ""
        if callee.startswith("aghmem") and caller.startswith("aghmem") and callee != caller:
            depth, serving = _walk(frame)
            if serving:
                self.calls.append((depth, caller, callee, frame.f_code.co_name))


def _walk(frame: FrameType | None) -> tuple[int, bool]:
    """(aghmem frames on the stack, whether it serves the request): the
    route's own thread, or the worker running the service method for it —
    not the watcher or the index's background commits."""
    depth, serving = 0, False
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("aghmem"):
            depth += 1
            serving = serving or module.startswith(("aghmem.api", "aghmem.faces")) or frame.f_code.co_name in ("write_memory", "submit")
        frame = frame.f_back
    return depth, serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the counts here")
    parser.add_argument("--calls", action="store_true", help="print every cross-module call")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aghmem-trace-"))
    (home / "config.toml").write_text("[controller.policy]\nmax_writes_per_min = 0\n")
    service = MemoryService(load_config(home / "config.toml", home=str(home)))
    try:
        from aghmem.faces.app import create_app
    except ImportError:  # the flat package before the regrouping
        from aghmem.api import create_app  # type: ignore[no-redef]

    # Installed before any thread starts (3.11 cannot reach running ones);
    # it records only while `active`.
    tracer = Tracer()
    threading.setprofile(tracer)
    sys.setprofile(tracer)
    with TestClient(create_app(service), base_url="http://127.0.0.1") as client:
        for i in range(5):
            client.post("/api/memory", json={"type": "user", "name": f"Warm {i}", "content": f"Warm-up write {i}."})
        service.indexing.index.flush()
        tracer.active = True
        response = client.post("/api/memory", json={"type": "user", "name": "Traced", "content": "The traced write."})
        tracer.active = False
        assert response.status_code == 200, response.text
    sys.setprofile(None)
    threading.setprofile(None)  # type: ignore[arg-type]

    modules = {callee for _, _, callee, _ in tracer.calls}
    climbs = [c for c in tracer.calls if LAYERS.index(layer_of(c[2])) > LAYERS.index(layer_of(c[1]))]
    # Calls into model.py are reads of plain data (a selector's key, to_dict):
    # the hops between the parts are the rest.
    hops = [c for c in tracer.calls if c[2] != "aghmem.model"]
    result = {"stops": len(tracer.calls), "hops": len(hops), "modules": len(modules), "climbs": len(climbs)}
    if args.calls:
        for depth, caller, callee, function in tracer.calls:
            mark = "  ↑" if (depth, caller, callee, function) in climbs else ""
            print(f"{'  ' * min(depth, 20)}{caller} → {callee}.{function}{mark}")
    print(
        f"one POST /api/memory: {result['stops']} calls between modules ({result['hops']} not into model.py), "
        f"{result['modules']} modules, {result['climbs']} climbs back up"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
