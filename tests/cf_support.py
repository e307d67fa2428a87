"""Helpers for the Cloudflare Agent Memory tests (test_compat_cf*.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import httpx

from aghmem.testing import FAST_CONFIG

# The CF origin writes a lot in these tests: no rate limit for it.
CF_CONFIG = FAST_CONFIG + "[compat.cf]\nmax_writes_per_min = 0\n"
SEEDS = Path(__file__).resolve().parent / "data" / "seeds"  # copies of ../shared/seeds 000–003: CI has no ../shared
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def base(account: str = "acc1") -> str:
    return f"/client/v4/accounts/{account}/agent-memory"


def profile_path(namespace: str, profile: str, account: str = "acc1") -> str:
    return f"{base(account)}/namespaces/{namespace}/profiles/{profile}"


def ok(response: httpx.Response) -> dict[str, Any]:
    """A V4 success: 200, success true, no errors, JSON."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is True and body["errors"] == [], body
    assert isinstance(body["messages"], list)
    return body


def v4_error(response: httpx.Response, status: int, code: int | None = None, message: str | None = None) -> dict[str, Any]:
    """A V4 error: the status, result null, success false, an integer code."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["result"] is None and body["success"] is False, body
    assert isinstance(body["errors"][0]["code"], int) and isinstance(body["errors"][0]["message"], str)
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    if message is not None:
        assert body["errors"][0]["message"] == message, body
    return body


def seed_curls(name_prefix: str) -> list[list[str]]:
    """Every curl command of a seed, as argv lists (continuation lines
    joined, multi-line -d bodies kept whole)."""
    lines = next(SEEDS.glob(f"{name_prefix}_*.txt")).read_text(encoding="utf-8").splitlines()
    commands, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("curl "):
            i += 1
            continue
        text = lines[i]
        i += 1
        while True:
            try:
                argv = shlex.split(text.replace("\\\n", " "))
            except ValueError:  # an open quote: the body goes on
                argv = None
            if argv is not None and not text.rstrip().endswith("\\"):
                break
            text += "\n" + lines[i]
            i += 1
        commands.append(argv)
    return commands


def run_curl(argv: list[str], url: str, values: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run a seed's curl against the daemon (`url` for Cloudflare's, the
    placeholders filled in); (status, JSON body)."""
    import json

    filled = []
    for arg in argv:
        arg = arg.replace("https://api.cloudflare.com", url)
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        filled.append(arg)
    done = subprocess.run([*filled, "-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)
