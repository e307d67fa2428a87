"""Query-string and path parameters, declared like the bodies' fields: the
routes read them through `parsing.query_value` (or the selector and number
readers, which hold them to the same rules) and /openapi.json lists them."""

from __future__ import annotations

import datetime as dt

from ....errors import ValidationError
from ....features.sessions import UNBOUND
from ....model import _WORKSPACE_ID_RE, Op
from ....storage.filenames import SYSTEM_FILENAME_RE
from .fields import EXAMPLE_WORKSPACE, SELECTOR, STAMP, core
from .memory import EXAMPLE_FILENAME, FILENAME_PATTERN
from .operations import PROVIDERS, SESSION_ID
from .spec import MAX_INT, Field

LIMIT = Field("integer", "How many at most (larger values are cut to the route's maximum)", minimum=1, maximum=MAX_INT)
CURSOR = Field("string", "Where the previous page ended: its next_cursor", max_length=512)
SELECTOR_QUERY = dict(SELECTOR)
PAGE_QUERY = {**SELECTOR_QUERY, "limit": LIMIT, "cursor": CURSOR}
SINCE = STAMP.but(description="Only since this moment")
HISTORY_OPERATIONS = ("memory.write", "memory.update", "memory.delete")
DREAM_STATUSES = ("idle", "running", "promoted", "skipped", "failed")

DECISIONS_QUERY = {
    **PAGE_QUERY, "op": Field("string", "Controller decision op", enum=tuple(o.value for o in Op)), "since": SINCE,
    "filename": Field("string", "Only the decisions about this file", max_length=200, one_line=True),
}
HISTORY_QUERY = {**PAGE_QUERY, "operation": Field("string", "Memory operation type", enum=HISTORY_OPERATIONS), "since": SINCE}
DREAMS_QUERY = {**SELECTOR_QUERY, "status": Field("string", "Dream status", enum=DREAM_STATUSES), "limit": LIMIT}


def _calendar_date(value: str, name: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a date in YYYY-MM-DD format", field=name) from None


DAILY_QUERY = {
    **SELECTOR_QUERY,
    "date": Field("string", "Daily log date in YYYY-MM-DD format", pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}", format="date",
                  checker=_calendar_date),
    "limit": LIMIT,
}
FAILURES_QUERY = {"session_id": Field("string", "Only this session's failures", max_length=200, one_line=True), "limit": LIMIT}
DELETE_QUERY = {**SELECTOR_QUERY, "dry_run": Field("boolean", "Decide and answer, but change nothing")}

IF_MATCH = {"If-Match": Field("string", "The content hash (ETag) the change is based on; * for any existing version")}

# Path parameters.
MEMORY_FILENAME = Field(
    "string", "Memory filename (system-managed `_system…` files too)",
    pattern=f"(?:{FILENAME_PATTERN})|(?:{core(SYSTEM_FILENAME_RE)})", example=EXAMPLE_FILENAME,
)
WORKSPACE_ID = Field("string", "Workspace id", pattern=core(_WORKSPACE_ID_RE))
DECISION_ID = Field("string", "Controller decision id", max_length=200)
DREAM_ID = Field("string", "Dreaming run id", max_length=200)
PROVIDER_NAME = Field("string", "Memory provider name", enum=PROVIDERS, example="local")
ROUTE_WORKSPACE = Field(
    "string", f"Workspace id, or {UNBOUND} for a session outside any", pattern=f"{UNBOUND}|{core(_WORKSPACE_ID_RE)}",
    example=EXAMPLE_WORKSPACE,
)
EXAMPLE_SESSION = "chat-1"
SESSION_PATH = {"workspace_id": ROUTE_WORKSPACE, "session_id": SESSION_ID.but(description="Session id", example=EXAMPLE_SESSION)}
TURN_SEQ = Field("integer", "Turn sequence", minimum=0, maximum=MAX_INT)
