"""Forms that change state: same-origin `Origin` and a signed token.

Any web page can make a browser POST a form to 127.0.0.1. The guard already
refuses a foreign `Origin`; a state-changing form here also needs its
`Origin` to be this server's own (browsers send it on every POST) and a
token that only a page of this daemon can hold: a timestamp signed with a
secret drawn when the process starts. A page elsewhere cannot read our pages
(same-origin policy; the Host check stops DNS rebinding), so it cannot get a
token. Not a double-submit cookie: cookies on 127.0.0.1 are shared by every
port, so another local service could plant one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl

from starlette.requests import Request

from ...errors import Forbidden, TooLarge, ValidationError
from ..security import same_origin

FIELD = "csrf_token"
# A page left open overnight still works; a token from a previous daemon
# process never does (the secret is new).
TOKEN_TTL_SECONDS = 24 * 3600
MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 32
_SECRET = secrets.token_bytes(32)


def _sign(stamp: str) -> str:
    return hmac.new(_SECRET, f"aghmem-form:{stamp}".encode(), hashlib.sha256).hexdigest()


def issue_token(now: float | None = None) -> str:
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{_sign(stamp)}"


def token_is_valid(token: str, now: float | None = None) -> bool:
    stamp, _, signature = token.partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(signature.encode(), _sign(stamp).encode()):
        return False
    age = (time.time() if now is None else now) - int(stamp)
    return -60 <= age <= TOKEN_TTL_SECONDS


def check_origin(request: Request) -> None:
    """Forbidden unless the request says it comes from one of our pages."""
    origin = request.headers.get("origin")
    if origin is None or not same_origin(origin, request.scope, request.headers):
        raise Forbidden(
            "this form must be sent from the inspector's own page (its Origin is missing or another site's); "
            "nothing was changed",
            origin=origin,
        )
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden(f"a {site} request cannot change memory; nothing was changed", sec_fetch_site=site)


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the only kind the inspector's pages send)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise TooLarge(f"the form is over {MAX_FORM_BYTES} bytes", limit=MAX_FORM_BYTES)
    if not raw:
        return {}  # no fields at all: the token check refuses it
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ValidationError("send the form as application/x-www-form-urlencoded", content_type=content_type)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("the form is not valid UTF-8 urlencoded text") from None
    return dict(pairs)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form once its Origin and token pass; Forbidden (and
    nothing done) otherwise."""
    check_origin(request)
    form = await read_form(request)
    if not token_is_valid(form.pop(FIELD, "")):
        raise Forbidden(
            "the form's security token is missing or expired (the daemon may have restarted); "
            "reload the page and submit again. Nothing was changed"
        )
    return form
