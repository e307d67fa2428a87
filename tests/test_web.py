"""The web inspector over HTTP against a real daemon: every page, its JSON
twin, escaping, bad input, forms and their CSRF defences, revert through the
page's own form (and the "changed since" refusal), dreams, health."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from aghmem.features.injection import results_text
from conftest import FAST_CONFIG, Daemon

CONFIG = FAST_CONFIG + """
[dream]
min_sessions = 0

[dream.gates]
min_unpromoted = 1
"""
EVIL = "<script>alert(1)</script>"


class Page(HTMLParser):
    """What a browser would find on a page: forms (with their fields),
    JSON-twin links, preformatted blocks by label, every href."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.twins: list[str] = []
        self.hrefs: list[str] = []
        self.pres: dict[str, str] = {}
        self._in_twins = 0
        self._pre: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}})
        elif tag == "input" and self.forms and "name" in a:
            if a.get("type") != "checkbox":
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "div" and "twins" in a.get("class", "").split():
            self._in_twins = 1
        elif tag == "a":
            self.hrefs.append(a.get("href", ""))
            if self._in_twins:
                self.twins.append(a.get("href", ""))
        elif tag == "pre":
            self._pre = a.get("aria-label", f"pre{len(self.pres)}")
            self.pres[self._pre] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._in_twins:
            self._in_twins = 0
        elif tag == "pre":
            self._pre = None

    def handle_data(self, data: str) -> None:
        if self._pre is not None:
            self.pres[self._pre] += data

    def form(self, action_part: str) -> dict[str, Any]:
        return next(f for f in self.forms if action_part in f["action"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One daemon with a workspace, an update to diff, a hostile memory, a
    shadowed one, an invalid and a quarantined file, and recall signals."""
    root = tmp_path_factory.mktemp("web")
    d = Daemon(root / "home", CONFIG).start()
    ws = d.workspace(root / "repo")
    d.write(type="user", name="Prefers tabs", content="Uses **tabs**.\n\n| lang | tool |\n|---|---|\n| go | gofmt |")
    evil = d.write(type="user", name=f"{EVIL} evil", description="<img src=x onerror=alert(2)>",
                   content=f"Body {EVIL} <b>bold</b> [click](javascript:alert(4)) <img src=x onerror=alert(5)>")
    d.write(workspace_id=ws, type="user", name="Prefers tabs", content="In this repo: spaces.")
    d.write(workspace_id=ws, type="project", name="Database", content="The project database is postgres 16.")
    update = d.write(workspace_id=ws, type="project", name="Database", content="The project database is postgres 17.")
    for query in ("postgres database version", "which database is the project on"):
        for sid in ("s1", "s2"):
            d.post("/api/memory/search", {"query_text": query, "workspace_id": ws, "session_id": f"{sid}{query[:4]}", "turn_seq": 1})
    (root / "home" / "memory" / "broken.md").write_text("---\nname: [unclosed\n---\nbody")
    (root / "home" / "memory" / "leaky.md").write_text("---\nname: Leaky\ntype: user\n---\nThe key is AKIAIOSFODNN7EXAMPLE.\n")
    d.post("/api/memory/reindex", {})
    try:
        yield {"d": d, "ws": ws, "root": root, "evil": evil["decision"], "update": update["decision"]}
    finally:
        d.kill()


def get(site: dict[str, Any], path: str, **kwargs: Any) -> httpx.Response:
    return site["d"].get(path, headers={"Accept": "text/html"}, **kwargs)


def post_form(site: dict[str, Any], action: str, fields: dict[str, str], *, origin: str | None = "same", **headers: str) -> httpx.Response:
    d = site["d"]
    sent = dict(headers)
    if origin is not None:
        sent["Origin"] = d.url if origin == "same" else origin
    return d.http.post(action, data=fields, headers=sent)


def pages(site: dict[str, Any]) -> list[str]:
    ws, evil = site["ws"], site["evil"]
    return [
        "/",
        f"/?workspace_id={ws}",
        f"/memory/{evil['target_filename']}",
        f"/memory/project_database.md?workspace_id={ws}",
        "/search",
        f"/search?q=postgres+database&workspace={ws}",
        "/decisions",
        "/decisions?op=update",
        f"/decisions/{site['update']['id']}",
        "/dreams",
        "/health",
    ]


def test_every_page_is_html_with_the_security_headers(site: dict[str, Any]) -> None:
    for path in [*pages(site), "/memory/nothing_here.md", "/decisions/dec_missing"]:
        response = get(site, path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text and "style=" not in response.text  # nothing inline for CSP to block
    css = site["d"].get("/static/inspector.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert get(site, "/static/../app.py").status_code == 404


def test_every_page_links_a_json_twin_that_resolves(site: dict[str, Any]) -> None:
    for path in pages(site):
        twins = Page(get(site, path).text).twins
        assert twins, f"{path} links no JSON twin"
        for href in twins:
            response = site["d"].get(html.unescape(href))
            assert response.status_code == 200, (path, href, response.text)
            assert response.headers["content-type"].startswith("application/json"), href


def test_memory_text_renders_inert(site: dict[str, Any]) -> None:
    filename = site["evil"]["target_filename"]
    for path in ("/", f"/memory/{filename}", "/search?q=evil+bold+click", f"/decisions/{site['evil']['id']}"):
        text = get(site, path).text
        assert EVIL not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
        assert not re.search(r"<[^>]*\sonerror\s*=", text), path
        assert "javascript:" not in text.replace("[click](javascript:alert(4))", ""), path
    page = get(site, f"/memory/{filename}").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page  # raw HTML off
    assert 'href="javascript:' not in page


def test_memory_page_shows_the_file_and_its_decisions(site: dict[str, Any]) -> None:
    ws = site["ws"]
    response = get(site, f"/memory/project_database.md?workspace_id={ws}")
    api = site["d"].get(f"/api/memory/project_database.md?workspace_id={ws}")
    assert response.status_code == 200
    text = response.text
    assert api.headers["etag"].strip('"') in text  # the content hash
    assert str(site["root"] / "repo" / ".agh" / "memory" / "project_database.md") in text
    assert "postgres 17" in text and site["update"]["id"] in text and "Provenance" in text
    table = get(site, "/memory/user_prefers_tabs.md").text
    assert "<table>" in table and "<strong>tabs</strong>" in table  # markdown, server-side


def test_scopes_list_counts_links_and_shadowing(site: dict[str, Any]) -> None:
    page = Page(get(site, "/").text)
    memory_links = [h for h in page.hrefs if h.startswith("/memory/")]
    assert len(memory_links) >= 4
    for href in memory_links:
        assert get(site, html.unescape(href)).status_code == 200, href
    scope = get(site, f"/?workspace_id={site['ws']}").text
    assert "shadowed by Workspace repo" in scope  # the global file of the same name


def test_bad_input_gets_the_right_status_never_a_500(site: dict[str, Any]) -> None:
    cases = {
        "/memory/nothing_here.md": 404,
        "/memory/x.md?workspace_id=not-a-workspace": 400,
        "/memory/x.md?workspace_id=ws_unknown1": 404,
        "/memory/..%2f..%2fconfig.toml": 400,
        "/decisions/dec_missing": 404,
        "/decisions?op=bogus": 400,
        "/decisions?since=yesterday": 400,
        "/?scope=agent": 400,
        "/search?q=": 400,
        "/search?q=%20%20": 400,
        "/search?q=x&limit=99": 400,
        "/search?q=x&limit=many": 400,
        "/search?q=x&workspace=ws_unknown1": 404,
        "/search?q=hello&workspace=~nosuchuser": 400,  # Path.expanduser raised RuntimeError
        "/static/nothing.css": 404,
    }
    for path, status in cases.items():
        response = get(site, path)
        assert response.status_code == status, (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("text/html"), path
    assert "Not searched." in get(site, "/search?q=").text  # the form again, with what to fix
    assert "Traceback" not in site["d"].log()


def test_search_shows_reasons_and_exactly_what_the_agent_gets(site: dict[str, Any]) -> None:
    d, ws, q = site["d"], site["ws"], "postgres database version"
    page = Page(get(site, f"/search?q={q}&workspace={ws}&limit=5").text)
    api = d.post("/api/memory/search", {"query_text": q, "workspace_id": ws, "top_k": 5}).json()
    assert page.pres["As memory_search returns it"] == results_text(api, q)
    hook = page.pres["As a prompt hook injects it"]
    assert hook.startswith("Memories from aghmem") and "<memory-data>" in hook and "postgres 17" in hook
    text = get(site, f"/search?q={q}&workspace={ws}").text
    assert "bm25_unicode" in text and "index: fresh" in text and "Why recalled" in text
    short = get(site, "/search?q=postgres").text
    assert "under 20 characters" in short


def _recall_count(d: Daemon, ws: str) -> int:
    d.get("/api/memory/recall-traces/flush/1")  # the lookup flushes pending signals first
    return d.get(f"/api/memory/project_database.md?workspace_id={ws}").json()["memory"]["summary"]["recall_count"]


def test_searching_in_the_inspector_records_no_recall(site: dict[str, Any]) -> None:
    d, ws = site["d"], site["ws"]
    before = _recall_count(d, ws)
    for _ in range(3):
        assert get(site, f"/search?q=postgres+database+version&workspace={ws}").status_code == 200
    assert _recall_count(d, ws) == before
    d.post("/api/memory/search", {"query_text": "postgres database version", "workspace_id": ws})
    assert _recall_count(d, ws) == before + 1  # an agent's search does count


def test_decisions_filter_and_empty_state(site: dict[str, Any]) -> None:
    text = get(site, "/decisions?op=update").text
    assert site["update"]["id"] in text and site["evil"]["id"] not in text
    by_file = get(site, f"/decisions?filename={site['evil']['target_filename']}").text
    assert site["evil"]["id"] in by_file and site["update"]["id"] not in by_file
    assert "No decision matches these filters" in get(site, "/decisions?filename=nothing.md").text


def _decisions(d: Daemon) -> int:
    return len(d.get("/api/memory/decisions?limit=500").json()["decisions"])


def _write_update(site: dict[str, Any], name: str) -> dict[str, Any]:
    d, ws = site["d"], site["ws"]
    d.write(workspace_id=ws, type="project", name=name, content=f"{name}: first version.")
    return d.write(workspace_id=ws, type="project", name=name, content=f"{name}: second version.")["decision"]


def test_revert_through_the_page_form(site: dict[str, Any]) -> None:
    d, ws = site["d"], site["ws"]
    decision = _write_update(site, "Revert me")
    page = Page(get(site, f"/decisions/{decision['id']}").text)
    form = page.form("/revert")
    assert form["method"] == "post" and form["fields"]["csrf_token"]
    response = post_form(site, form["action"], form["fields"])
    assert response.status_code == 303, response.text
    landed = get(site, response.headers["location"])
    assert landed.status_code == 200 and f"Reverted <a href=\"/decisions/{decision['id']}\">" in landed.text
    memory = d.get(f"/api/memory/{decision['target_filename']}?workspace_id={ws}").json()["memory"]
    assert "first version" in memory["content"]


def test_revert_of_a_file_changed_since_is_refused_and_says_so(site: dict[str, Any]) -> None:
    d, ws = site["d"], site["ws"]
    decision = _write_update(site, "Changed since")
    form = Page(get(site, f"/decisions/{decision['id']}").text).form("/revert")  # fetched before the change
    d.write(workspace_id=ws, type="project", name="Changed since", content="Changed since: a third version.")
    before = _decisions(d)
    shown = get(site, f"/decisions/{decision['id']}").text
    assert "Revert would be refused" in shown and "has changed since" in shown
    response = post_form(site, form["action"], form["fields"])
    assert response.status_code == 409
    assert "Not reverted: the file changed since." in response.text and "has changed since" in response.text
    assert _decisions(d) == before
    content = d.get(f"/api/memory/{decision['target_filename']}?workspace_id={ws}").json()["memory"]["content"]
    assert "third version" in content


def test_forms_refuse_cross_origin_and_missing_tokens(site: dict[str, Any]) -> None:
    d, ws = site["d"], site["ws"]
    decision = _write_update(site, "Guarded")
    form = Page(get(site, f"/decisions/{decision['id']}").text).form("/revert")
    token = form["fields"]["csrf_token"]
    stamp, signature = token.split(".")
    # One hex digit of the signature changed (to another digit: a signature
    # starting with "0" made "0" + the rest the same token, 1 run in 16).
    tampered = f"{stamp}.{'1' if signature[0] == '0' else '0'}{signature[1:]}"
    attempts = [
        ({"csrf_token": token}, "http://evil.example"),  # a page elsewhere, even holding a token
        ({"csrf_token": token}, f"http://localhost:{d.port}"),  # another origin on this machine
        ({"csrf_token": token}, None),  # no Origin at all
        ({}, "same"),  # no token
        ({"csrf_token": "1700000000.deadbeef"}, "same"),  # a forged token
        ({"csrf_token": tampered}, "same"),
    ]
    before = _decisions(d)
    for fields, origin in attempts:
        response = post_form(site, form["action"], fields, origin=origin)
        assert response.status_code == 403, (fields, origin, response.status_code)
    cross_site = post_form(site, form["action"], {"csrf_token": token}, **{"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    as_json = d.http.post(form["action"], json={"csrf_token": token}, headers={"Origin": d.url})
    assert as_json.status_code == 400
    dream = post_form(site, "/dreams/trigger", {"workspace_id": ws, "force": "1"}, origin="http://evil.example")
    assert dream.status_code == 403
    assert _decisions(d) == before and d.get("/api/memory/dreams").json()["dreams"] == []
    content = d.get(f"/api/memory/{decision['target_filename']}?workspace_id={ws}").json()["memory"]["content"]
    assert "second version" in content


def test_dreams_dry_run_run_and_revert_the_promotion(site: dict[str, Any]) -> None:
    d, ws = site["d"], site["ws"]
    page = Page(get(site, "/dreams").text)
    assert "sessions" in get(site, "/dreams").text
    dry = next(f for f in page.forms if f["fields"].get("dry_run") == "1" and f["fields"].get("workspace_id") == ws)
    response = post_form(site, dry["action"], dry["fields"])
    assert response.status_code == 200 and "Dry run: Workspace repo" in response.text
    assert "× 0.35 =" in response.text and "project_database.md" in response.text  # terms: value × weight
    assert d.get("/api/memory/dreams").json()["dreams"] == []  # a dry run changes nothing
    run = next(f for f in page.forms if "dry_run" not in f["fields"] and f["fields"].get("workspace_id") == ws
               and f["action"] == "/dreams/trigger")
    ran = post_form(site, run["action"], {**run["fields"], "force": "1"})
    assert ran.status_code == 200, ran.text
    dream = d.get("/api/memory/dreams").json()["dreams"][0]
    assert dream["status"] == "promoted", dream
    revert = Page(get(site, "/dreams").text).form(f"/decisions/{dream['decision_id']}/revert")
    undone = post_form(site, revert["action"], revert["fields"])
    assert undone.status_code == 303
    revert_id = undone.headers["location"].split("/decisions/")[1].split("?")[0]
    assert d.get(f"/api/memory/decisions/{revert_id}").json()["decision"]["reverts"] == dream["decision_id"]
    synthesis = Path(dream["artifact_paths"][-1])
    assert not synthesis.exists()  # the promotion added the synthesis file; the revert removed it


def test_health_shows_refused_files_freshness_and_setup(site: dict[str, Any]) -> None:
    text = get(site, "/health").text
    home = site["root"] / "home" / "memory"
    assert str(home / "broken.md") in text and "not valid YAML" in text
    assert str(home / "leaky.md") in text and "memory_scan.secret" in text
    assert "running" in text and "0.1.0" in text
    url = f"{site['d'].url}/mcp"
    assert f"&#34;url&#34;: &#34;{url}&#34;" in text or f"&quot;url&quot;: &quot;{url}&quot;" in text
    assert "[mcp_servers.aghmem]" in text


def test_host_check_covers_the_pages_with_a_page_for_browsers(site: dict[str, Any]) -> None:
    d = site["d"]
    refused = d.http.get("/", headers={"Host": "evil.example", "Accept": "text/html"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in refused.headers["content-security-policy"] and "evil.example" in refused.text
    api = d.http.get("/api/memory", headers={"Host": "evil.example", "Accept": "text/html"})
    assert api.status_code == 403 and api.json()["code"] == "memory.forbidden"  # programs keep JSON
    same = d.http.get("/api/memory", headers={"Origin": d.url})
    assert same.status_code == 200  # a page the daemon served may call its API


def test_pages_are_not_in_the_openapi_document(site: dict[str, Any]) -> None:
    paths = site["d"].get("/openapi.json").json()["paths"]
    assert "/api/memory/decisions" in paths
    assert not any(p in paths for p in ("/", "/search", "/decisions", "/dreams", "/health"))


def test_an_empty_daemon_says_what_to_do(make_daemon: Any) -> None:
    d = make_daemon()
    for path, hint in {"/": "Nothing remembered yet", "/decisions": "No decisions yet", "/dreams": "No dream has run yet",
                       "/search": "Ask what an agent would ask"}.items():
        response = d.get(path)
        assert response.status_code == 200 and hint in response.text, path


def test_a_workspace_whose_folder_is_gone_is_shown_not_a_500(site: dict[str, Any]) -> None:
    d, root = site["d"], site["root"]
    gone = root / "gone"
    ws = d.workspace(gone)
    d.write(workspace_id=ws, type="project", name="Lost", content="In a folder about to vanish.")
    for path in sorted(gone.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    gone.rmdir()
    health = get(site, "/health")
    assert health.status_code == 200 and "Workspaces whose folder is missing" in health.text and ws in health.text
    for path in ("/", f"/?workspace_id={ws}", f"/search?q=lost+folder&workspace={ws}", "/dreams", "/decisions"):
        assert get(site, path).status_code == 200, path
    assert "folder missing" in get(site, "/").text
    # Nothing brought part of it back (the scans its deletion set off made
    # their temp folder in it once; deleting it by hand then raced them).
    assert not gone.exists()
