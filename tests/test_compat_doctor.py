"""`aghmem doctor` names the compat surfaces' trouble (COMPAT §2, §3): a
memory configuration file that cannot be used, a binding to an absent
configuration, a key-value card whose value is not JSON; and exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from conftest import FAST_CONFIG, ROOT, Daemon

CONFIG = FAST_CONFIG + """
[compat.kv]
max_writes_per_min = 0
[compat.cfg.bindings]
"global" = "default/absent"
"""


def doctor(daemon: Daemon) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env.update(AGHMEM_URL=daemon.url, AGHMEM_HOME=str(daemon.home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "aghmem", "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_doctor_lists_broken_configs_missing_bindings_and_kv_cards(make_daemon: Any) -> None:
    d = make_daemon(CONFIG)
    broken = d.home / "compat" / "configs" / "default" / "broken.yaml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("resource: memory\nid: broken\ntype: [not, a, type\n")
    assert d.post("/api/memory", {"agentId": "doc_agent", "key": "k", "memory": [1, 2]}).status_code == 200
    [card] = (d.home / "agents" / "doc_agent" / "memory").glob("reference_kv_k_*.md")
    card.write_text(card.read_text().replace("[1,2]", "[1, 2,"))
    deadline = time.monotonic() + 10
    while "kv key" not in d.get("/api/memory/health").json()["reason"]:  # the watcher takes the edit in
        assert time.monotonic() < deadline, "the hand edit was not taken in"
        time.sleep(0.05)
    result = doctor(d)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"! memory configuration {broken}: " in "\n".join(lines)
    assert "! compat.cfg.bindings: 'global' names default/absent, which is absent or broken" in lines
    assert any(line.startswith('! kv key "k" of agent doc_agent: the value is not valid JSON') for line in lines)
    assert lines[-1] == "3 problem(s)"
