"""The web inspector in a real headless Chromium (Debian's, over the DevTools
protocol): hostile memory text stays inert, the page's own Revert button
works (the Origin and token a real browser sends pass), a form posted from
another site is refused, the pages fit 1280 px and a narrow window, and the
keyboard works. Skipped where chromium is missing, except under CI=true
(.ci/run installs it), where that is a failure."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser import Browser, chromium_path
from conftest import Daemon

HOSTILE = (
    "Pwn attempt <script>document.body.dataset.pwned = 'script'</script> "
    "<img src=x onerror=\"document.body.dataset.pwned = 'img'\"> [link](javascript:document.body.dataset.pwned='link')"
)
PAGES = ["/", "/search?q=postgres+database+version", "/decisions", "/dreams", "/health"]
WIDTHS = (1280, 420)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser")
    d = Daemon(root / "home").start()
    ws = d.workspace(root / "repo")
    hostile = d.write(type="user", name="<script>document.title='pwned'</script>", content=HOSTILE)["decision"]
    d.write(workspace_id=ws, type="project", name="Database", content="The project database is postgres 16.")
    update = d.write(workspace_id=ws, type="project", name="Database", content="The project database is postgres 17.")
    browser = Browser(root / "profile")
    try:
        yield {"d": d, "ws": ws, "b": browser, "root": root, "hostile": hostile, "update": update["decision"]}
    finally:
        browser.close()
        d.kill()


def test_hostile_memory_text_is_shown_not_run(site: dict[str, Any]) -> None:
    b, d = site["b"], site["d"]
    for path in (f"/memory/{site['hostile']['target_filename']}", "/", "/search?q=pwn+attempt"):
        b.goto(d.url + path)
        assert b.evaluate("document.body.dataset.pwned === undefined"), path
        assert b.evaluate("document.title") != "pwned", path
        assert b.evaluate("document.querySelectorAll('main script, main img, main [onerror]').length") == 0, path
        assert "<script>" in b.evaluate("document.querySelector('main').textContent"), path  # shown as text
    assert b.evaluate("[...document.querySelectorAll('a')].every(a => !a.href.startsWith('javascript:'))")


def test_the_inspectors_own_script_runs_under_its_csp(site: dict[str, Any]) -> None:
    b, d = site["b"], site["d"]
    b.goto(d.url + "/health")
    assert b.evaluate("document.querySelectorAll('button[data-copy]:not([hidden])').length") == 3
    assert b.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")  # the stylesheet loaded


def test_revert_by_clicking_the_button(site: dict[str, Any]) -> None:
    b, d, ws = site["b"], site["d"], site["ws"]
    decision = site["update"]
    b.goto(f"{d.url}/decisions/{decision['id']}")
    b.evaluate("document.querySelector('form.revert button').click()")
    b.wait_for("location.search.startsWith('?reverted=') && document.readyState === 'complete'")
    assert "Reverted" in b.evaluate("document.querySelector('.banner.ok').textContent")
    assert b.dialogs[-1].startswith("Revert this decision?")  # the confirm a person answers
    content = d.get(f"/api/memory/project_database.md?workspace_id={ws}").json()["memory"]["content"]
    assert "postgres 16" in content


class _AttackPage(BaseHTTPRequestHandler):
    """Another site on this machine whose page posts a form to the daemon."""

    html = ""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_form_posted_from_another_site_is_refused(site: dict[str, Any]) -> None:
    b, d, ws = site["b"], site["d"], site["ws"]
    decision = d.write(workspace_id=ws, type="project", name="Target", content="Target: second.")["decision"]
    page = d.get(f"/decisions/{decision['id']}").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]  # even a leaked token does not help
    _AttackPage.html = (
        f'<form method="post" action="{d.url}/decisions/{decision["id"]}/revert">'
        f'<input name="csrf_token" value="{token}"></form><script>document.forms[0].submit()</script>'
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        b.goto(f"http://127.0.0.1:{server.server_port}/")
        b.wait_for(f"location.href.startsWith({d.url!r}) && document.readyState === 'complete'")
    finally:
        server.shutdown()
        server.server_close()
    assert "403" in b.evaluate("document.querySelector('h1').textContent")
    assert d.get(f"/api/memory/decisions?workspace_id={ws}&filename=project_target.md").json()["decisions"][0]["id"] == decision["id"]
    assert d.get(f"/api/memory/project_target.md?workspace_id={ws}").status_code == 200  # not reverted away


def test_pages_fit_a_wide_and_a_narrow_window(site: dict[str, Any], tmp_path: Path) -> None:
    b, d = site["b"], site["d"]
    shots = Path(os.environ.get("AGHMEM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    paths = [*PAGES, f"/memory/project_database.md?workspace_id={site['ws']}", f"/decisions/{site['update']['id']}"]
    try:
        for width in WIDTHS:
            b.resize(width, 900)
            for n, path in enumerate(paths):
                b.goto(d.url + path)
                overflow = b.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} is {overflow}px wider than a {width}px window"
                b.screenshot(shots / f"{width}-{n}.png")
    finally:
        b.call("Emulation.clearDeviceMetricsOverride")


def test_the_keyboard_reaches_search_and_skips_to_content(site: dict[str, Any]) -> None:
    b, d = site["b"], site["d"]
    b.goto(d.url + "/decisions")
    b.press("Tab", "Tab", 9)
    assert b.evaluate("document.activeElement.className") == "skip"
    b.evaluate("document.activeElement.blur()")
    b.press("/", "Slash", 191, "/")
    assert b.evaluate("document.activeElement.id") == "quick-q"
    b.goto(d.url + "/search")
    assert b.evaluate("document.activeElement.id") == "q"  # the search page starts in its box
