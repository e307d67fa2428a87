"""Crash recovery: decisions recorded but not applied when the daemon died.

The decision row is committed before the file is touched, so a crash leaves
rows pending; at start each is settled by what the disk shows: applied if
the file holds its result, abandoned otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Decision, Op
from .controller import Controller


@dataclass
class RecoveryReport:
    applied: int = 0
    abandoned: int = 0


def recover(controller: Controller) -> RecoveryReport:
    report = RecoveryReport()
    with controller.lock:
        for decision in controller.catalog.pending_decisions():
            assert decision.target_filename
            if controller.config_files.owns(decision):
                _settle(controller, decision, controller.config_files.recover(decision), report)
                continue
            try:
                current = controller.disk.current_hash(decision.selector, decision.target_filename)
            except Exception:  # noqa: BLE001 - a scope that vanished cannot be settled
                current = "unreachable"
            done = current is None if decision.op is Op.DELETE else current == decision.post_content_hash
            _settle(controller, decision, done, report)
    return report


def _settle(controller: Controller, decision: Decision, done: bool, report: RecoveryReport) -> None:
    catalog = controller.catalog
    with catalog.write() as db:
        if done:
            catalog.mark_applied(db, decision.id, decision.decided_at)
            report.applied += 1
        else:
            catalog.mark_abandoned(db, decision.id, "daemon stopped before applying")
            report.abandoned += 1
