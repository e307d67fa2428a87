"""Configuration files as decisions (COMPAT §0.5 N4): the controller's
second kind of target, a YAML file under HOME/<compat.cfg.root>.

Rules, in order: the policy (origin allowed), the safety scan (the file's
text, refused, never redacted: a redaction would change the patterns
themselves), If-Match, then the same file: identical bytes → noop,
present → update, absent → add; a delete of an absent file is NotFound.
Each decision is recorded with the prior and post bytes before the file
changes, under the controller's write lock, and can be reverted through
the native revert route like a memory's. Changes made by hand become
observed decisions (origin `file`). Config decisions carry the global
selector; their target is the file's path under HOME, which no memory
filename can be (it has slashes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import Conflict, NotFound, Rejected
from ..model import GLOBAL, Decision, Op, RuleResult
from ..storage.files import atomic_write, content_hash, fsync_dir
from ..storage.reading import RefusedFile, read_memory_bytes
from .decisions import decision_id, revert_plan, stamp
from .safety import Scanner

if TYPE_CHECKING:
    from .controller import Controller

# A config is small; this is the cap on what is read of one.
MAX_CONFIG_BYTES = 256 * 1024
PLAIN_SCAN = Scanner(redact_patterns=[], redaction="")


class PreconditionFailed(Conflict):
    """If-Match names another version than the file's (HTTP 412)."""

    code = "memory.precondition_failed"


@dataclass
class ConfigWrite:
    """A proposed change to one config file. `target`: its path under HOME
    (`compat/configs/<project>/<id>.yaml`); `content` None deletes it."""

    target: str
    content: bytes | None
    origin: str
    if_match: list[str] | None = None  # None: no precondition; ["*"]: must exist


ConfigListener = Callable[[str], None]


class ConfigFiles:
    def __init__(self, controller: "Controller") -> None:
        self.controller = controller
        self.listeners: list[ConfigListener] = []  # told each target changed
        self.known: dict[str, str | None] = {}  # target → hash last taken in

    @property
    def home(self) -> Path:
        return self.controller.config.home_path

    @property
    def prefix(self) -> str:
        return self.controller.config.compat.cfg.root.strip("/") + "/"

    def owns(self, decision: Decision) -> bool:
        return bool(decision.target_filename) and decision.target_filename.startswith(self.prefix)

    def path(self, target: str) -> Path:
        if not target.startswith(self.prefix) or ".." in target.split("/") or not target.endswith(".yaml"):
            raise NotFound(f"{target} is not a configuration file")
        return self.home / target

    def raw(self, target: str) -> bytes | None:
        try:
            return read_memory_bytes(self.path(target), max_bytes=MAX_CONFIG_BYTES)[0]
        except FileNotFoundError:
            return None
        except RefusedFile as exc:
            raise Conflict(f"{target} cannot be read ({exc.message}); fix it by hand") from None

    # --- submit --------------------------------------------------------------

    def submit(self, write: ConfigWrite) -> Decision:
        """Decide, record, apply; the decision (a replayed one as it was)."""
        controller = self.controller
        controller.wait_ready()
        trace = self._policy_and_scan(write)
        with controller.lock:
            self._observe_locked(write.target)
            current = self.raw(write.target)
            _check_if_match(write, current)
            op, reason = _op_of(write, current)
            trace.append(RuleResult("same_file", True, reason, write.target))
            key = controller.derived_key("config", write.origin, GLOBAL, content_hash(write.content or b"delete"), write.target)
            replay = controller.catalog.get_decision(decision_id(key))
            if replay is not None and replay.status in ("applied", "recorded"):
                return replay
            if op is not Op.NOOP:
                controller._count_write(write.origin)
            decision = self._decision(key, write.target, op, write.origin, reason, trace, post=write.content, prior=current)
            self._record_and_apply(decision)
        controller.catalog.sync()  # answered only once its decision is durable (commits are synchronous=NORMAL)
        self._tell(write.target, decision)
        return decision

    def _policy_and_scan(self, write: ConfigWrite) -> list[RuleResult]:
        trace: list[RuleResult] = []
        if write.origin not in self.controller.config.controller.policy.allow_origins:
            raise Rejected(f"origin {write.origin!r} is not allowed", rule="policy.origin")
        trace.append(RuleResult("policy.origin", True, f"origin {write.origin} allowed"))
        if write.content is None:
            trace.append(RuleResult("memory_scan", True, "not scanned: delete"))
            return trace
        outcome = PLAIN_SCAN.scan({"file": write.content.decode("utf-8")}, autonomous=False)
        if outcome.findings:
            first = outcome.findings[0]
            raise Rejected(f"content contains {first.reason}", rule=f"memory_scan.{first.rule}")
        trace.append(RuleResult("memory_scan", True, "clean"))
        return trace

    def _record_and_apply(self, decision: Decision) -> None:
        catalog = self.controller.catalog
        changes = decision.op in (Op.ADD, Op.UPDATE, Op.DELETE)
        decision.status = "pending" if changes else "recorded"
        catalog.record(decision, decision.status)
        if not changes:
            return
        assert decision.target_filename
        path = self.path(decision.target_filename)
        if decision.op is Op.DELETE:
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)
        else:
            assert decision.post_content is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, decision.post_content.encode("utf-8"))
        applied_at = stamp(self.controller.clock(), ms=True)
        with catalog.write() as db:
            catalog.mark_applied(db, decision.id, applied_at)
        decision.applied_at, decision.status = applied_at, "applied"
        self.known[decision.target_filename] = decision.post_content_hash

    def _decision(
        self, key: str, target: str, op: Op, origin: str, reason: str, trace: list[RuleResult], *,
        post: bytes | None, prior: bytes | None, source: str = "rule", reverts: str | None = None,
    ) -> Decision:
        now = stamp(self.controller.clock(), ms=True)
        name = target.rsplit("/", 1)[-1].removesuffix(".yaml")
        written = post if op in (Op.ADD, Op.UPDATE) else None
        return Decision(
            id=decision_id(key),
            idempotency_key=key,
            candidate_hash=content_hash(post if post is not None else f"delete:{target}".encode()),
            selector=GLOBAL,
            op=op,
            origin=origin,
            source=source,
            reason=reason,
            targets=[target],
            target_filename=target,
            post_content=written.decode("utf-8") if written is not None else None,
            post_content_hash=content_hash(written) if written is not None else None,
            prior_content=prior.decode("utf-8", errors="replace") if prior is not None else None,
            prior_content_hash=content_hash(prior) if prior is not None else None,
            rule_trace=trace,
            frontmatter={
                **GLOBAL.to_dict(), "filename": target, "name": name, "description": "memory configuration",
                "type": "config", "entity": None, "attribute": None, "tags": [],
                "provenance": {"source_actor": origin, "source_session_ids": [], "confidence": None,
                               "superseded_by": None, "created_at": now, "updated_at": now},
            },
            decided_at=now,
            reverts=reverts,
        )

    def _tell(self, target: str, decision: Decision | None) -> None:
        if decision is not None and decision.status == "applied":
            for listener in self.listeners:
                listener(target)

    # --- revert --------------------------------------------------------------

    def revert(self, original: Decision, *, dry_run: bool) -> Decision:
        """The decision undoing `original` (status dry_run, or applied)."""
        assert original.target_filename
        target = original.target_filename
        with self.controller.lock:
            self._observe_locked(target)
            prior = self.raw(target)
            op, post, reason = revert_plan(original, content_hash(prior) if prior is not None else None)
            key = self.controller.derived_key("revert", "revert", GLOBAL, original.id, target)
            trace = [RuleResult("revert.hash_check", True, reason, target)]
            decision = self._decision(
                key, target, op, "revert", reason, trace,
                post=post.encode("utf-8") if post is not None else None, prior=prior, reverts=original.id,
            )
            if dry_run:
                decision.status = "dry_run"
                return decision
            self._record_and_apply(decision)
        self.controller.catalog.sync()
        self._tell(target, decision)
        return decision

    def recover(self, decision: Decision) -> bool:
        """Whether a pending config decision's result is on disk."""
        assert decision.target_filename
        raw = self.raw(decision.target_filename)
        if decision.op is Op.DELETE:
            return raw is None
        return raw is not None and content_hash(raw) == decision.post_content_hash

    # --- hand edits ----------------------------------------------------------

    def baseline(self, targets: list[str]) -> None:
        """At start: the files as they are. A file whose last decision wrote
        other bytes was edited while the daemon was down (observed); a file
        with no decision at all is taken as it is."""
        for target in targets:
            with self.controller.lock:
                if self._last_hash(target) is None:
                    raw = self.raw(target)
                    self.known[target] = content_hash(raw) if raw is not None else None
                    continue
            self.observe(target)

    def observe(self, target: str) -> Decision | None:
        """The file as it is on disk now, taken in: a change since the last
        look becomes an observed decision (origin `file`)."""
        with self.controller.lock:
            decision = self._observe_locked(target)
        self._tell(target, decision)
        return decision

    def _last_hash(self, target: str) -> str | None:
        last = self.controller.catalog.last_decision_for(GLOBAL.key, target)
        decision = self.controller.catalog.get_decision(last) if last else None
        return decision.post_content_hash if decision is not None else None

    def _observe_locked(self, target: str) -> Decision | None:
        try:
            raw = self.raw(target)
        except Conflict:
            return None  # not a regular file: health reports it
        now_hash = content_hash(raw) if raw is not None else None
        was = self.known[target] if target in self.known else self._last_hash(target)
        self.known[target] = now_hash
        if was == now_hash:
            return None
        op = Op.DELETE if raw is None else (Op.UPDATE if was is not None else Op.ADD)
        key = self.controller.derived_key("observed", "file", GLOBAL, now_hash or "deleted", target)
        if self.controller.catalog.decision_status(decision_id(key)) is not None:
            return None
        last = self.controller.catalog.last_decision_for(GLOBAL.key, target)
        previous = self.controller.catalog.get_decision(last) if last else None
        prior = previous.post_content.encode("utf-8") if previous is not None and previous.post_content is not None else None
        verb = {Op.ADD: "created", Op.UPDATE: "edited", Op.DELETE: "deleted"}[op]
        trace = [RuleResult("observed", True, f"{verb} outside the daemon", target)]
        decision = self._decision(key, target, op, "file", f"{target} {verb} on disk", trace, post=raw, prior=prior, source="observed")
        if prior is None and was is not None:
            decision.prior_content_hash = was
        decision.applied_at, decision.status = decision.decided_at, "applied"
        with self.controller.catalog.write() as db:
            self.controller.catalog.insert_decision(db, decision, "applied")
        return decision


def _check_if_match(write: ConfigWrite, current: bytes | None) -> None:
    if write.if_match is None:
        return
    if current is None:
        raise PreconditionFailed(f"{write.target} does not exist; If-Match cannot match", target=write.target)
    if "*" in write.if_match:
        return
    if content_hash(current) not in write.if_match:
        raise PreconditionFailed(
            "If-Match does not match the configuration's current ETag", target=write.target, current_etag=content_hash(current)
        )


def _op_of(write: ConfigWrite, current: bytes | None) -> tuple[Op, str]:
    if write.content is None:
        if current is None:
            raise NotFound(f"no configuration {write.target}", target=write.target)
        return Op.DELETE, f"deletes {write.target}"
    if current is None:
        return Op.ADD, f"new configuration {write.target}"
    if hashlib.sha256(current).digest() == hashlib.sha256(write.content).digest():
        return Op.NOOP, "no change to the configuration"
    return Op.UPDATE, f"updates {write.target}"
