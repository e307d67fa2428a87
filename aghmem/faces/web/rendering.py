"""Pages out: templates, markdown, the headers every page sends, and errors
as pages (with the status the API would give, never a 500 for bad input).

Templates are `*.html` in templates/, autoescaped: memory text is data and
goes in as text. Markdown is rendered here with raw HTML off, images off
(a memory cannot make the browser fetch anything) and only http(s),
mailto and relative links.
"""

from __future__ import annotations

import functools
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ... import __version__
from ...errors import AghmemError
from ..api.errors import STATUS
from ..security import PAGE_HEADERS
from . import views
from .csrf import FIELD, issue_token

if TYPE_CHECKING:
    from jinja2 import Environment
    from markdown_it import MarkdownIt

log = logging.getLogger("aghmem.web")

HERE = Path(__file__).resolve().parent
NAV = (("/", "Scopes"), ("/search", "Search"), ("/decisions", "Decisions"), ("/dreams", "Dreams"), ("/health", "Health"))
# A page is built from what the daemon holds now: never cached.
HEADERS = {**PAGE_HEADERS, "Cache-Control": "no-store"}
SAFE_SCHEMES = ("http", "https", "mailto", "")

# What to do next, by status: an error page is a page someone reads.
ADVICE = {
    400: "Check the address or the form: the message above says which part is wrong.",
    403: "Reload the page you came from and try again; forms only work from the inspector's own pages.",
    404: "It may have been deleted or renamed. The scope lists on the Scopes page show what is there now.",
    409: "Nothing was changed. Look at the file as it is now, then decide again.",
    413: "Send less: the form or query is too long.",
    422: "The controller refused it; the message says why.",
    429: "Wait a minute and try again.",
}


def _safe_link(url: str) -> bool:
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


# Jinja2 and markdown-it are loaded with the first page, not at start-up
# (50 ms of every daemon's import time; most never serve a page).
@functools.cache
def _markdown() -> "MarkdownIt":
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"]).disable("image")
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def markdown(text: str | None) -> Markup:
    """Markdown → HTML with raw HTML shown as text (markdown-it escapes it)."""
    return Markup(_markdown().render(text or ""))


@functools.cache
def _environment() -> "Environment":
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(markdown=markdown, when=views.when, json=views.pretty_json)
    env.globals.update(
        nav=NAV,
        version=__version__,
        csrf_field=FIELD,
        memory_href=views.memory_href,
        decision_memory_href=views.decision_memory_href,
        with_filename=views.with_filename,
        api_memory_href=views.api_memory_href,
        scope_href=views.scope_href,
        decisions_href=views.decisions_href,
        selector_query=views.selector_query,
    )
    return env


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """A page: the template with the request, a fresh form token, and the
    security headers."""
    names = views.workspace_names(request.app.state.service.list_workspaces())
    page = _environment().get_template(template).render(
        request=request,
        path=request.url.path,
        csrf_token=issue_token(),
        scope_title=functools.partial(views.scope_title, names=names),
        workspace_names=names,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def error_page(request: Request, status: int, message: str, *, details: dict[str, Any] | None = None) -> HTMLResponse:
    context = {"status": status, "message": message, "advice": ADVICE.get(status, ""), "details": details or {}}
    return render(request, "error.html", context, status=status)


Handler = Callable[[Request], Awaitable[Response]]


def page(handler: Handler) -> Handler:
    """A page handler whose errors become pages: an aghmem error with its
    API status (400, 403, 404, 409…), anything else a 500 naming an
    incident id that the daemon log explains."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except AghmemError as exc:
            return error_page(request, STATUS.get(exc.code, 500), exc.message, details=exc.details)
        except Exception:  # noqa: BLE001 - the page says where to look
            incident = secrets.token_hex(6)
            log.exception("internal error %s on %s %s", incident, request.method, request.url.path)
            return error_page(request, 500, f"Something broke inside the daemon (incident {incident}; see the daemon log).")

    return wrapped


STATIC = {
    "inspector.css": "text/css; charset=utf-8",
    "inspector.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


async def static(request: Request) -> Response:
    """The stylesheet and the script: two fixed files, nothing else."""
    name = request.path_params["name"]
    if name not in STATIC:
        return error_page(request, 404, f"no static file {name}")
    body = (HERE / "static" / name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={**PAGE_HEADERS, "Cache-Control": "no-cache"})
