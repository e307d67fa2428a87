"""The LLM breaks the rules' ties (controller.mode = hybrid | llm).

When the rules find several possible targets for a candidate (DESIGN §5,
"ambiguous"), the provider is shown the candidate and the targets and
answers one JSON object: update one of them, add a new memory, or noop.
Every ask is recorded as the decision's `llm_trace` (model, prompt version,
latency, error). If the provider cannot answer (breaker open, timeout, bad
answer), `hybrid` keeps the rules' `default_op_on_fail` and `llm` rejects
the candidate: that mode promises no tie is settled without the model.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from ..config import Config, parse_duration
from ..controller.rules import Candidate, Verdict
from ..model import Op, RuleResult, Selector
from ..storage.files import ParsedMemory
from .providers import Guard, ProviderError, Providers

SYSTEM = (
    "You maintain a developer's memory files. A new memory arrived and several existing memories could be "
    "the one it changes. Answer with one JSON object and nothing else: "
    '{"op": "update", "target": "<filename>", "reason": "…"} when it replaces that memory, '
    '{"op": "add", "reason": "…"} when it is a different memory, '
    '{"op": "noop", "reason": "…"} when it adds nothing new.'
)
_OBJECT_RE = re.compile(r"\{.*\}", re.DOTALL)
SHOWN_CHARS = 1_500


class TieBreaker:
    def __init__(self, config: Config, providers: Providers) -> None:
        self.config = config
        self.providers = providers
        # scope → a bound memory configuration's breaker (configs/breakers.py).
        self.guard: Callable[[Selector], Guard | None] | None = None

    def __call__(self, candidate: Candidate, verdict: Verdict, read_file: Callable[[str], ParsedMemory | None]) -> dict[str, Any]:
        """Settle an ambiguous verdict in place; returns the llm_trace."""
        settings = self.config.controller
        model = settings.llm.model or self.config.provider.model
        trace: dict[str, Any] = {"model": model, "prompt_version": settings.llm.prompt_version, "latency_ms": 0, "error": None}
        targets = verdict.targets[: settings.llm.top_k]
        shown = {name: read_file(name) for name in targets}
        try:
            completion = self.providers.complete(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": _prompt(verdict, shown)}],
                model=model or None,
                timeout=min(parse_duration(settings.max_latency), parse_duration(settings.llm.timeout)),
                max_tokens=settings.llm.max_tokens_out,
                guard=self.guard(candidate.selector) if self.guard is not None else None,
            )
            trace.update(model=completion.model, latency_ms=round(completion.latency_ms))
            op, target, reason = _answer(completion.text, targets)
        except ProviderError as exc:
            trace["error"] = f"{exc.code}: {exc}"
            self._fall_back(verdict, trace["error"])
            return trace
        self._apply(verdict, op, target, reason, shown)
        return trace

    def _apply(self, verdict: Verdict, op: Op, target: str | None, reason: str, shown: dict[str, ParsedMemory | None]) -> None:
        own_exists = verdict.current is not None and verdict.filename in verdict.targets
        if op is Op.ADD and own_exists:
            op, target = Op.UPDATE, verdict.filename  # its own filename exists: adding is updating it
        verdict.op, verdict.confidence = op, 0.8
        verdict.reason = f"llm: {reason}" if reason else f"llm chose {op.value}"
        if op is Op.UPDATE:
            assert target is not None
            verdict.target_filename, verdict.current = target, shown.get(target)
        elif op is Op.ADD:
            verdict.target_filename, verdict.current = verdict.filename, None
        else:
            verdict.target_filename = None
        verdict.trace.append(RuleResult("llm.tie_break", True, verdict.reason, verdict.target_filename))

    def _fall_back(self, verdict: Verdict, error: str) -> None:
        if self.config.controller.mode == "llm":
            verdict.op, verdict.target_filename = Op.REJECT, None
            verdict.reason = f"the LLM could not break the tie ({error}); controller.mode = llm does not fall back"
            verdict.trace.append(RuleResult("llm.tie_break", False, verdict.reason))
        else:
            verdict.trace.append(RuleResult("llm.tie_break", True, f"LLM unavailable ({error}); kept the rules' verdict"))


def _prompt(verdict: Verdict, shown: dict[str, ParsedMemory | None]) -> str:
    fields = verdict.fields
    parts = [
        "New memory:",
        f"name: {fields.get('name')}",
        f"description: {fields.get('description') or ''}",
        (fields.get("body") or "")[:SHOWN_CHARS],
        "",
        "Existing memories it could change:",
    ]
    for name, memory in shown.items():
        body = memory.body[:SHOWN_CHARS] if memory is not None else "(missing)"
        parts += [f"--- {name} (name: {memory.name if memory else '?'})", body]
    return "\n".join(parts)


def _answer(text: str, targets: list[str]) -> tuple[Op, str | None, str]:
    match = _OBJECT_RE.search(text)
    try:
        data = json.loads(match.group(0)) if match else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("op") not in ("update", "add", "noop"):
        raise ProviderError("bad_answer", f"expected a JSON object with op update|add|noop, got {text[:120]!r}")
    op = Op(data["op"])
    target = data.get("target")
    if op is Op.UPDATE and target not in targets:
        raise ProviderError("bad_answer", f"target {target!r} is not one of {', '.join(targets)}")
    reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
    return op, target if op is Op.UPDATE else None, " ".join(reason.split())[:300]
