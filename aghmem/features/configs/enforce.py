"""A bound configuration's privacy policy on session events (COMPAT §2.6):
before events reach a bound scope's ledger, those whose `event_type` or
message `payload.role` is non-persistable are dropped (and counted as
skipped), and the string leaves of the others' payloads pass the scope's
redaction. The ledger, and so the extractor, never sees either."""

from __future__ import annotations

from ...model import GLOBAL, Scope, Selector
from ..sessions import Event
from .bindings import Bindings


class SessionPolicy:
    def __init__(self, bindings: Bindings) -> None:
        self.bindings = bindings

    def __call__(self, workspace_id: str | None, events: list[Event]) -> tuple[list[Event], int]:
        """(the events to write, how many were dropped)."""
        if not self.bindings.config.compat.cfg.bindings:
            return events, 0
        selector = Selector(Scope.WORKSPACE, workspace_id=workspace_id) if workspace_id else GLOBAL
        effective = self.bindings.effective(selector)
        if not effective.bound:
            return events, 0
        dropped = effective.non_persistable
        scanner = self.bindings.scanner(selector)
        kept = []
        for event in events:
            role = event.payload.get("role") if event.event_type == "message" else None
            if event.event_type in dropped or role in dropped:
                continue
            payload = scanner.redact_strings(event.payload) if scanner is not None else event.payload
            kept.append(Event(event.sequence, event.event_type, event.emitted_at, payload))
        return kept, len(events) - len(kept)

