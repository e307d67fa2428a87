"""What every payload is made of: known fields, text, flags, timestamps,
bounded numbers. Each refusal is a ValidationError that names the field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

from ....controller.decisions import parse_stamp, stamp
from ....errors import ValidationError
from ....model import _NAME_RE, _WORKSPACE_ID_RE, Scope, Tier, check_agent_name, check_workspace_id
from .spec import Body, Field

MAX_NAME = 200
MAX_DESCRIPTION = 1_000
MAX_KEY = 200


def check_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}", unknown=unknown, allowed=sorted(allowed)
        )


def text(body: Mapping[str, Any], key: str, *, limit: int | None = None, one_line: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    if limit is not None and len(value) > limit:
        raise ValidationError(f"{key} is longer than {limit} characters", field=key)
    if one_line and ("\n" in value or "\r" in value):
        raise ValidationError(f"{key} must be a single line", field=key)
    if "\x00" in value:
        raise ValidationError(f"{key} contains a NUL byte", field=key)
    return value


def flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be true or false", field=key)
    return value


def timestamp(value: Any, name: str) -> str:
    """An ISO 8601 date-time (UTC when no zone is given), as stored: ms, Z."""
    try:
        moment = parse_stamp(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return stamp(moment, ms=True)
    except ValueError:
        raise ValidationError(f"{name} must be an ISO 8601 date-time, e.g. 2026-04-21T00:00:00Z", field=name) from None
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in the year 10000, UTC
        raise ValidationError(f"{name} is out of range: it must fall between the years 1 and 9999 in UTC", field=name) from None


def query_flag(query: Mapping[str, Any], key: str) -> bool:
    value = query.get(key)
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise ValidationError(f"{key} must be true or false", field=key)


def bounded_int(body: Mapping[str, Any], key: str, default: int, maximum: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(f"{key} must be a whole number from 1 to {maximum}", field=key)
    if value > maximum:
        raise ValidationError(f"{key} must be at most {maximum}", field=key)
    return value


# --- declarations shared by several payloads (see spec.py) ---------------------


def core(pattern: re.Pattern[str]) -> str:
    """A `^…$` regex as the body of a fully matched pattern."""
    return pattern.pattern.removeprefix("^").removesuffix("$")


# The workspace the documented examples name (the fuzz test registers it).
EXAMPLE_WORKSPACE = "ws_0123abcd"

SCOPE = Field("string", "Memory scope", enum=tuple(s.value for s in Scope), empty_absent=True)
WORKSPACE_ID = Field(
    "string", "Durable workspace id", pattern=core(_WORKSPACE_ID_RE), empty_absent=True,
    checker=lambda value, _: check_workspace_id(value),
)
AGENT_NAME = Field(
    "string", "Agent name for agent-scoped memory", pattern=core(_NAME_RE), empty_absent=True,
    checker=lambda value, _: check_agent_name(value),
)
AGENT_TIER = Field("string", "Agent memory tier", enum=tuple(t.value for t in Tier), empty_absent=True)
SELECTOR: dict[str, Field] = {"scope": SCOPE, "workspace_id": WORKSPACE_ID, "agent_name": AGENT_NAME, "agent_tier": AGENT_TIER}
SELECTOR_BODY = Body(SELECTOR, description="A memory scope: global, a workspace, or an agent's (in a workspace or global)")

DRY_RUN = Field("boolean", "Decide and answer, but change nothing")
IDEMPOTENCY_KEY = Field("string", "The same key again answers the first decision", max_length=MAX_KEY, one_line=True)
ORIGIN = Field("string", "Who is writing (http, cli, mcp…); the rate limit counts per origin", max_length=32, one_line=True)
STAMP = Field(
    "string", format="date-time", max_length=64,
    checker=lambda value, name: timestamp(value, name),
    description="An ISO 8601 date-time (UTC when it names no zone)",
)
