"""The one place that turns the native JSON shapes into typed requests.

HTTP routes (and library tests) parse a body here, then call MemoryService
with the typed values. Hand-written files are parsed tolerantly elsewhere;
API payloads are not: an unknown field, a wrong type or a missing required
value is a ValidationError that names the field.
"""

from .fields import check_fields, flag, timestamp
from .memory import (
    Promotion,
    ad_hoc_candidate,
    decision_op,
    delete_candidate,
    patch_candidate,
    promotion,
    reset_request,
    selector_from,
    since,
    write_candidate,
)
from .operations import SessionAppend, drain_timeout, provider_name, prune_options, replay_options, retry_ids, session_append
from .recall import dream_trigger, search_request
from .workspaces import resolve_path

__all__ = [
    "Promotion", "SessionAppend", "ad_hoc_candidate", "check_fields", "decision_op", "delete_candidate", "drain_timeout",
    "dream_trigger", "flag", "patch_candidate", "promotion", "provider_name", "prune_options", "replay_options",
    "reset_request", "resolve_path", "retry_ids", "search_request", "selector_from", "session_append", "since", "timestamp",
    "write_candidate",
]
