"""The named errors of aghmem.

The core raises these; the HTTP layer maps each `code` to a status in one
place (`aghmem.api.errors`), and the CLI prints `message`. Nothing here knows
about HTTP.
"""

from __future__ import annotations

from typing import Any


class AghmemError(Exception):
    """Base of every error aghmem reports to a caller."""

    code = "memory.internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(AghmemError):
    code = "memory.validation"


class Unauthorized(AghmemError):
    code = "memory.unauthorized"


class Forbidden(AghmemError):
    code = "memory.forbidden"


class NotFound(AghmemError):
    code = "memory.not_found"


class Conflict(AghmemError):
    code = "memory.conflict"


class TooLarge(AghmemError):
    code = "memory.too_large"


class UnsupportedMediaType(AghmemError):
    """A request body in another format than the route reads (JSON)."""

    code = "memory.unsupported_media_type"


class Rejected(AghmemError):
    """The controller decided `reject`; `details["decision"]` says why."""

    code = "memory.rejected"


class RateLimited(AghmemError):
    code = "memory.rate_limited"


class Unsupported(AghmemError):
    code = "memory.unsupported"


class Unavailable(AghmemError):
    """Not now: the daemon is still taking in its files (or is stopping); retry shortly."""

    code = "memory.unavailable"


class ConfigError(AghmemError):
    """The configuration file or environment is wrong; raised at start-up."""

    code = "memory.validation"


class ParseError(AghmemError):
    """A memory file on disk cannot be parsed."""

    code = "memory.validation"
