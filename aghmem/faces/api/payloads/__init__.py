"""The one place that turns the native JSON shapes into typed requests.

HTTP routes (and library tests) parse a body here, then call MemoryService
with the typed values. Hand-written files are parsed tolerantly elsewhere;
API payloads are not: an unknown field, a wrong type or a missing required
value is a ValidationError that names the field. Each body is declared once
(a `spec.Body` beside its parser); the parser checks against it and
/openapi.json describes it, so the two cannot drift apart.
"""

from .fields import check_fields, flag, timestamp
from .memory import (
    AD_HOC_BODY,
    DELETE_BODY,
    PATCH_BODY,
    PROMOTE_BODY,
    RESET_BODY,
    REVERT_BODY,
    WRITE_BODY,
    Promotion,
    ad_hoc_candidate,
    decision_op,
    delete_candidate,
    patch_candidate,
    promotion,
    reset_request,
    revert_options,
    selector_from,
    since,
    write_candidate,
)
from .operations import (
    DRAIN_BODY,
    NO_BODY,
    PRUNE_BODY,
    REINDEX_BODY,
    REPLAY_BODY,
    RETRY_BODY,
    SELECT_BODY,
    SESSION_APPEND_BODY,
    SessionAppend,
    drain_timeout,
    no_body,
    provider_name,
    prune_options,
    reindex_selector,
    replay_options,
    retry_ids,
    session_append,
)
from .recall import DREAM_TRIGGER_BODY, SEARCH_BODY, dream_trigger, search_request
from .spec import Body, Field
from .workspaces import MOVE_BODY, RESOLVE_QUERY, WORKSPACE_BODY, resolve_path, workspace_move, workspace_registration

__all__ = [
    "AD_HOC_BODY", "DELETE_BODY", "DRAIN_BODY", "DREAM_TRIGGER_BODY", "NO_BODY", "PATCH_BODY", "PROMOTE_BODY", "PRUNE_BODY",
    "REINDEX_BODY", "REPLAY_BODY", "RESET_BODY", "RETRY_BODY", "REVERT_BODY", "SEARCH_BODY", "SELECT_BODY",
    "SESSION_APPEND_BODY", "WORKSPACE_BODY", "WRITE_BODY", "MOVE_BODY", "RESOLVE_QUERY",
    "Body", "Field", "Promotion", "SessionAppend", "ad_hoc_candidate", "check_fields", "decision_op", "delete_candidate",
    "drain_timeout", "dream_trigger", "flag", "no_body", "patch_candidate", "promotion", "provider_name", "prune_options",
    "reindex_selector", "replay_options", "reset_request", "retry_ids", "revert_options", "search_request", "selector_from",
    "resolve_path", "session_append", "since", "timestamp", "workspace_move", "workspace_registration", "write_candidate",
]
