"""A bound configuration's max_messages / max_tokens / flushing cut what the
llm extractor sends (COMPAT §2.6), against the fake provider."""

from __future__ import annotations

from typing import Any

from conftest import FAST_CONFIG
from fake_llm import FakeLLM, reply


def test_bound_limits_cut_the_llm_transcript(make_daemon: Any) -> None:
    """max_messages 2 bound to global: the provider sees the last two messages only;
    hybrid_summary past its threshold turns the oldest into one summary line."""
    with FakeLLM() as llm:
        config = FAST_CONFIG + f"""
[extractor]
mode = "llm"

[provider]
name = "llm"
base_url = "{llm.base_url}"
model = "fake-1"
timeout = "2s"

[compat.cfg]
max_writes_per_min = 0
[compat.cfg.bindings]
"global" = "default/short"
"""
        d = make_daemon(config)
        body = {"type": "message_count_based", "max_messages": 2, "persistence": {"type": "in_memory"}}
        assert d.http.put("/api/v0/memories/short", json=body).status_code == 201
        llm.script(reply(""), reply(""))
        send(d, "s1", "First thing. More.", "Second thing.", "Third thing.", "Fourth thing.")
        transcript = llm.requests[-1]["messages"][1]["content"]
        assert "Third thing." in transcript and "Fourth thing." in transcript and "Second" not in transcript
        hybrid = {**body, "max_messages": 10, "flushing": {"type": "hybrid_summary", "summarize_threshold": 0.3,
                                                           "summary_tokens": 50, "summarize_oldest_percent": 0.5}}
        assert d.http.put("/api/v0/memories/short", json=hybrid).status_code == 200
        send(d, "s2", "Alpha one. tail", "Beta two. tail", "Gamma three.", "Delta four.")
        transcript = llm.requests[-1]["messages"][1]["content"]
        assert "Summary of earlier messages: Alpha one. Beta two." in transcript
        assert "tail" not in transcript and "Delta four." in transcript

        # token_allocation: the recent messages get short_term × max_tokens (20 of 40 tokens:
        # two 10-token messages, not four), the summary line at most long_term × max_tokens.
        padded = [f"Note {n} is here. " + "x" * 22 for n in range(6)]  # 40 chars: 10 tokens each
        split = {"type": "token_based", "max_tokens": 40, "persistence": {"type": "in_memory"},
                 "token_allocation": {"short_term": 0.5, "long_term": 0.25, "system": 0.25}}
        assert d.http.put("/api/v0/memories/short", json=split).status_code == 200
        send(d, "s3", *padded)
        transcript = llm.requests[-1]["messages"][1]["content"]
        assert [line.split(":")[0] for line in transcript.splitlines()] == ["[5] user", "[6] user"]
        summarized = {**split, "flushing": {"type": "hybrid_summary", "summarize_threshold": 0.5, "summary_tokens": 50,
                                            "summarize_oldest_percent": 0.5}}
        assert d.http.put("/api/v0/memories/short", json=summarized).status_code == 200
        send(d, "s4", *padded)
        first, *recent = llm.requests[-1]["messages"][1]["content"].splitlines()
        assert first == "[3] system: Summary of earlier messages: Note 0 is h"  # 10 tokens: 40 characters
        assert [line.split(":")[0] for line in recent] == ["[5] user", "[6] user"]


def send(d: Any, sid: str, *messages: str) -> None:
    events = [{"sequence": i + 1, "event_type": "message", "payload": {"role": "user", "content": m}} for i, m in enumerate(messages)]
    assert d.post(f"/api/workspaces/_unbound/memory/sessions/{sid}/events", {"events": events}).status_code == 200
    drained = d.post("/api/memory/extractor/drain", {"timeout_seconds": 30}).json()
    assert drained["drained"] is True and drained["remaining"] == 0
