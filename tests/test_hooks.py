"""Lifecycle hooks, as Claude Code and Codex call them: `aghmem hook <event>`
run as a process with the runtime's JSON on stdin, and the same handler at
`POST /api/hooks/{runtime}` (Claude Code's http hooks), against one real
daemon. Payloads and transcripts are in tests/fixtures/hooks, in the shapes
the runtimes send and write."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from aghmem.config import load_config
from aghmem.errors import ConfigError
from aghmem.features.injection import CLOSE, CONTEXT_MAX_CHARS, OPEN
from aghmem.features.transcripts import Turn, parse_lines
from conftest import FAST_CONFIG, ROOT, Daemon

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
AGHMEM = str(Path(sys.executable).with_name("aghmem"))
CONTEXT_KEYS = {"hookEventName", "additionalContext"}
CLAUDE_SID = "5b2f0e1c-7d3a-4a44-9b7e-2f5c8d1e6a90"
CODEX_SID = "0199a7c2-4b1e-7f30-9d2c-5e8a1b3c4d6f"


class Setup:
    """The module's daemon, its workspace and its transcript root."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.roots = tmp / "transcripts"
        self.roots.mkdir()
        config = FAST_CONFIG + f'\n[hooks]\ntranscript_roots = ["{self.roots}"]\n'
        self.daemon = Daemon(tmp / "home", config).start()
        self.project = tmp / "proj"
        self.deep = self.project / "src" / "deep"
        self.deep.mkdir(parents=True)
        self.ws = self.daemon.workspace(self.project)
        self.daemon.write(
            type="project", workspace_id=self.ws, name="Billing deploys",
            content="The billing service is deployed with blue-green releases every Friday afternoon.",
        )
        self.daemon.write(type="user", name="Package manager", content="Uses pnpm for every JavaScript project, never npm.")

    def transcript(self, name: str, *fixtures: str) -> Path:
        """The fixture transcripts, one after the other, as one file in the root."""
        path = self.roots / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as out:
            for fixture in fixtures:
                out.write((FIXTURES / fixture).read_bytes())
        return path

    def ledger(self, session_id: str, route: str | None = None) -> dict[str, Any] | None:
        response = self.daemon.get(f"/api/workspaces/{route or self.ws}/memory/sessions/{session_id}/ledger")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("hooks"))
    yield s
    s.daemon.kill()


def payload(runtime: str, event: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((FIXTURES / f"{runtime}_{event}.json").read_text())
    body.update(changes)
    return body


def http_hook(setup: Setup, runtime: str, body: Any) -> tuple[int, Any, str]:
    response = setup.daemon.post(f"/api/hooks/{runtime}", body)
    return response.status_code, response.json(), response.headers.get("x-aghmem-hook", "")


def cli_hook(
    event: str, stdin: str | bytes, *, url: str, runtime: str = "claude", extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}, **(env or {})}
    env["AGHMEM_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [AGHMEM, "hook", event, "--runtime", runtime, *extra], input=data, capture_output=True, env=env, cwd=ROOT, timeout=60
    )


def context_of(answer: Any, event: str) -> str:
    """additionalContext of an answer that has exactly the shape Codex accepts."""
    assert set(answer) == {"hookSpecificOutput"}
    inner = answer["hookSpecificOutput"]
    assert set(inner) == CONTEXT_KEYS and inner["hookEventName"] == event
    text = inner["additionalContext"]
    assert isinstance(text, str) and 0 < len(text) <= CONTEXT_MAX_CHARS
    assert text.count(OPEN) == 1 and text.count(CLOSE) == 1  # fenced as data
    return text


# --- UserPromptSubmit -------------------------------------------------------------


def test_prompt_context_over_http_from_a_subfolder_of_the_workspace(setup: Setup) -> None:
    body = payload("claude", "user_prompt_submit", cwd=str(setup.deep), session_id="prompt-http-1")
    status, answer, _ = http_hook(setup, "claude", body)
    assert status == 200
    text = context_of(answer, "UserPromptSubmit")
    assert "blue-green releases every Friday" in text and text.index(OPEN) < text.index("Billing deploys") < text.index(CLOSE)


def test_prompt_context_from_the_cli_for_codex(setup: Setup) -> None:
    body = payload("codex", "user_prompt_submit", cwd=str(setup.project), session_id="prompt-cli-1")
    done = cli_hook("user-prompt-submit", json.dumps(body), url=setup.daemon.url, runtime="codex")
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.endswith(b"\n") and done.stdout.count(b"\n") == 1
    assert "blue-green" in context_of(json.loads(done.stdout), "UserPromptSubmit")


def test_outside_every_workspace_only_global_memory_is_seen(setup: Setup) -> None:
    elsewhere = payload("claude", "user_prompt_submit", cwd=str(setup.tmp), session_id="prompt-out-1")
    assert http_hook(setup, "claude", elsewhere)[:2] == (200, {})
    pnpm = {**elsewhere, "prompt": "Which package manager do we use for the JavaScript project?"}
    assert "pnpm" in context_of(http_hook(setup, "claude", pnpm)[1], "UserPromptSubmit")


def test_short_and_irrelevant_prompts_get_nothing(setup: Setup) -> None:
    short = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="quiet-1", prompt="billing deploys?")
    irrelevant = {**short, "prompt": "Explain quantum chromodynamics on a lattice, briefly please."}
    for body in (short, irrelevant):
        status, answer, note = http_hook(setup, "claude", body)
        assert (status, answer, note) == (200, {}, "nothing to add")
        done = cli_hook("user-prompt-submit", json.dumps(body), url=setup.daemon.url)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_a_memory_shown_in_the_session_is_not_shown_again(setup: Setup) -> None:
    body = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="once-1")
    assert "blue-green" in context_of(http_hook(setup, "claude", body)[1], "UserPromptSubmit")
    assert http_hook(setup, "claude", {**body, "prompt": "And who deploys the billing service on Friday?"})[1] == {}


def test_context_stays_within_the_budget(setup: Setup) -> None:
    for n in range(8):
        setup.daemon.write(
            type="project", workspace_id=setup.ws, name=f"Canary rollout step {n}",
            content=f"Kubernetes canary rollout, step {n}: " + "shift traffic gradually and watch the error budget. " * 36,
        )
    body = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="budget-1",
                   prompt="How do we run a kubernetes canary rollout and watch the error budget?")
    text = context_of(http_hook(setup, "claude", body)[1], "UserPromptSubmit")
    assert "Canary rollout step" in text and "more not shown" in text  # cut on whole entries, and says so


# --- SessionStart -------------------------------------------------------------------


def test_session_start_brief_over_http_and_from_the_cli(setup: Setup) -> None:
    body = payload("claude", "session_start", cwd=str(setup.deep), session_id="brief-1")
    text = context_of(http_hook(setup, "claude", body)[1], "SessionStart")
    assert "Billing deploys" in text and text.count("\n## ") <= 8
    codex = payload("codex", "session_start", cwd=str(setup.tmp), session_id="brief-2")
    done = cli_hook("session-start", json.dumps(codex), url=setup.daemon.url, runtime="codex")
    assert done.returncode == 0 and done.stderr == b""
    outside = context_of(json.loads(done.stdout), "SessionStart")
    assert "Package manager" in outside and "Billing deploys" not in outside  # global only
    # What the brief showed is not shown again by the session's prompts.
    prompt = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="brief-1")
    assert http_hook(setup, "claude", prompt)[1] == {}


# --- capture: Stop, PreCompact, SessionEnd -------------------------------------------


def messages(ledger: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["sequence"], e["payload"]["role"], e["payload"]["content"]) for e in ledger["events"] if e["event_type"] == "message"]


def test_stop_records_each_turn_once_and_session_end_closes_the_session(setup: Setup) -> None:
    path = setup.transcript(f"-proj/{CLAUDE_SID}.jsonl", "claude_transcript.jsonl")
    stop = payload("claude", "stop", cwd=str(setup.deep), transcript_path=str(path))
    assert http_hook(setup, "claude", stop)[:2] == (200, {})
    first = setup.ledger(CLAUDE_SID)
    assert first is not None
    turns = messages(first)
    assert [(seq, role) for seq, role, _ in turns] == [(4, "user"), (6, "assistant"), (10, "user"), (11, "assistant")]
    assert turns[0][2] == "I prefer tabs over spaces in every Python file of this repository."
    injected = turns[2][2]
    assert "[REDACTED]" in injected and "ghp_" not in injected  # secrets redacted
    assert "memory-data" not in injected and "system-reminder" not in injected and "Old memory" not in injected
    assert {e["payload"]["source"] for e in first["events"]} == {"claude"}

    # A second Stop, and a PreCompact from the CLI: nothing new.
    assert http_hook(setup, "claude", stop)[2] == f"0 event(s) recorded in session {CLAUDE_SID}"
    done = cli_hook("pre-compact", json.dumps(payload("claude", "pre_compact", cwd=str(setup.project), transcript_path=str(path))),
                    url=setup.daemon.url)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert setup.ledger(CLAUDE_SID) == first

    # New lines: only they are added; SessionEnd adds session.stopped after them.
    setup.transcript(f"-proj/{CLAUDE_SID}.jsonl", "claude_transcript_more.jsonl")
    end = payload("claude", "session_end", cwd=str(setup.project), transcript_path=str(path))
    assert http_hook(setup, "claude", end)[2] == f"3 event(s) recorded in session {CLAUDE_SID}"
    closed = setup.ledger(CLAUDE_SID)
    assert closed is not None and closed["meta"]["stopped_at"] is not None
    assert [e["sequence"] for e in closed["events"]] == [4, 6, 10, 11, 12, 13, 14]
    assert closed["events"][-1]["event_type"] == "session.stopped" and closed["events"][-1]["payload"]["reason"] == "prompt_input_exit"
    assert http_hook(setup, "claude", end)[0] == 200  # again: nothing, and no second ledger
    # A reason is a label: a control character in it is dropped, never a 400.
    assert http_hook(setup, "claude", {**end, "reason": "log\u0000out\n now"})[0] == 200
    assert setup.ledger(f"{CLAUDE_SID}:2") is None

    # Resumed (same session id): the turns after the stop go on in a ledger of their own.
    setup.transcript(f"-proj/{CLAUDE_SID}.jsonl", "claude_transcript_more.jsonl")
    assert http_hook(setup, "claude", stop)[2] == f"2 event(s) recorded in session {CLAUDE_SID}:2"
    resumed = setup.ledger(f"{CLAUDE_SID}:2")
    assert resumed is not None and resumed["meta"]["parent_session_id"] == CLAUDE_SID
    assert [seq for seq, _, _ in messages(resumed)] == [14, 15]
    assert setup.ledger(CLAUDE_SID) == closed


def test_codex_transcript_from_the_cli(setup: Setup) -> None:
    path = setup.transcript(f"codex/rollout-{CODEX_SID}.jsonl", "codex_transcript.jsonl")
    body = payload("codex", "stop", transcript_path=str(path))  # cwd /home/user/proj: no workspace
    done = cli_hook("stop", json.dumps(body), url=setup.daemon.url, runtime="codex", extra=("--verbose",))
    assert (done.returncode, done.stdout) == (0, b"")
    assert b"2 event(s) recorded" in done.stderr
    ledger = setup.ledger(CODEX_SID, route="_unbound")
    assert ledger is not None
    assert messages(ledger) == [
        (5, "user", "Our staging database is Postgres on port 6543."),
        (12, "assistant", "Got it: staging Postgres on port 6543."),
    ]
    assert {e["payload"]["source"] for e in ledger["events"]} == {"codex"}


def test_no_user_turn_no_write(setup: Setup) -> None:
    path = setup.transcript("-proj/no-user.jsonl", "claude_transcript_no_user.jsonl")
    body = payload("claude", "stop", session_id="no-user-1", cwd=str(setup.project), transcript_path=str(path))
    status, answer, note = http_hook(setup, "claude", body)
    assert (status, answer) == (200, {}) and "no user turn" in note
    assert setup.ledger("no-user-1") is None


def test_a_lone_surrogate_in_a_transcript_is_replaced_and_the_turns_recorded(setup: Setup) -> None:
    line = '{"type":"user","message":{"role":"user","content":"Deploys run on Fridays \\ud800 only."}}\n'
    for n, event in enumerate(("stop", "pre_compact", "session_end")):
        path = setup.roots / f"surrogate-{n}.jsonl"  # JSON escapes: the file itself is valid UTF-8
        path.write_text(line + '{"type":"assistant","message":{"role":"assistant","content":"Noted \\udfff."}}\n')
        body = payload("claude", event, session_id=f"surrogate-{n}", cwd=str(setup.project), transcript_path=str(path))
        status, _, note = http_hook(setup, "claude", body)
        assert status == 200 and "event(s) recorded" in note, (event, note)
        ledger = setup.ledger(f"surrogate-{n}")
        assert ledger is not None
        assert [text for _, _, text in messages(ledger)] == ["Deploys run on Fridays \ufffd only.", "Noted \ufffd."]
    assert "Traceback" not in setup.daemon.log()


def test_a_transcript_outside_the_roots_is_not_read(setup: Setup) -> None:
    outside = setup.tmp / "elsewhere" / "secret.jsonl"
    outside.parent.mkdir()
    shutil.copy(FIXTURES / "claude_transcript.jsonl", outside)
    link = setup.roots / "link.jsonl"
    link.symlink_to(outside)
    cases = {
        str(outside): "outside hooks.transcript_roots",
        str(link): "outside hooks.transcript_roots",  # the link's target counts
        str(setup.roots / ".." / "elsewhere" / "secret.jsonl"): "outside hooks.transcript_roots",
        str(setup.roots): "outside hooks.transcript_roots",  # the root itself
        "relative/x.jsonl": "not an absolute path",
        "~nosuchuser/x.jsonl": "no user named nosuchuser",  # Path.expanduser raised RuntimeError
        str(setup.roots / "missing.jsonl"): "cannot be opened",
    }
    (setup.roots / "folder.jsonl").mkdir()
    cases[str(setup.roots / "folder.jsonl")] = "not a regular file"
    for n, (path, reason) in enumerate(cases.items()):
        body = payload("claude", "stop", session_id=f"outside-{n}", cwd=str(setup.project), transcript_path=path)
        status, answer, note = http_hook(setup, "claude", body)
        assert (status, answer) == (200, {}) and reason in note, (path, note)
        assert setup.ledger(f"outside-{n}") is None


def test_the_extractor_learns_from_a_captured_conversation(setup: Setup) -> None:
    path = setup.transcript("-proj/learn.jsonl", "claude_transcript.jsonl")
    body = payload("claude", "stop", session_id="learn-1", cwd=str(setup.project), transcript_path=str(path))
    assert http_hook(setup, "claude", body)[0] == 200
    assert setup.daemon.post("/api/memory/extractor/drain", {"timeout_seconds": 30}).status_code == 200
    prompt = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="learn-2",
                     prompt="Should this Python file be indented with tabs or with spaces?")
    assert "tabs over spaces" in context_of(http_hook(setup, "claude", prompt)[1], "UserPromptSubmit")


# --- failing open, and refusing -------------------------------------------------------


def test_the_cli_fails_open(setup: Setup) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there once closed
    body = json.dumps(payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="down-1"))
    down = cli_hook("user-prompt-submit", body, url=closed)
    assert (down.returncode, down.stdout) == (0, b"") and b"no answer from the daemon" in down.stderr
    for garbage in (b"", b"not json", b"[1, 2]", b"\xff\xfe\x00", b'{"unterminated": '):
        done = cli_hook("stop", garbage, url=setup.daemon.url)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), garbage  # quiet
    usage = cli_hook("post-tool-use", body, url=setup.daemon.url)  # not a hook aghmem answers
    assert (usage.returncode, usage.stdout) == (0, b"")
    refused = cli_hook("user-prompt-submit", json.dumps({"hook_event_name": "UserPromptSubmit", "session_id": "../x"}), url=setup.daemon.url)
    assert (refused.returncode, refused.stdout) == (0, b"") and b"400" in refused.stderr


def test_the_cli_sends_the_token(make_daemon: Any) -> None:
    guarded = make_daemon(env={"AGHMEM_TOKEN": "s3cret-token"})
    guarded.write(type="user", name="Editor", content="Edits every file with helix, the modal editor.")
    body = json.dumps({"session_id": "token-1", "hook_event_name": "UserPromptSubmit", "prompt": "Which modal editor do I edit files with?"})
    refused = cli_hook("user-prompt-submit", body, url=guarded.url)
    assert (refused.returncode, refused.stdout) == (0, b"") and b"401" in refused.stderr
    done = cli_hook("user-prompt-submit", body, url=guarded.url, env={"AGHMEM_TOKEN": "s3cret-token"})
    assert done.returncode == 0 and "helix" in context_of(json.loads(done.stdout), "UserPromptSubmit")


def test_the_hook_command_imports_no_core() -> None:
    """The runtime waits for `aghmem hook` on every prompt: it must not load
    the index, SQLite, httpx or the server."""
    heavy = ("httpx", "tantivy", "starlette", "uvicorn", "sqlite3", "aghmem.service", "aghmem.features", "aghmem.storage")
    code = (
        "import sys; from aghmem.faces.cli.main import main; main(['hook', 'stop']); "
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    env = {**os.environ, "AGHMEM_URL": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], input=b"{}", capture_output=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout == b"[]\n", done.stderr


def test_http_refuses_bad_input_and_foreign_callers(setup: Setup) -> None:
    http = setup.daemon.http
    assert http is not None
    good = payload("claude", "user_prompt_submit", cwd=str(setup.project), session_id="guard-1")
    assert http.post("/api/hooks/claude", content=b"not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert http.post("/api/hooks/cursor", json=good).status_code == 404
    assert http.post("/api/hooks/claude", json={"prompt": "no event named here at all"}).status_code == 400
    assert http.post("/api/hooks/claude", json={**good, "cwd": "relative/dir"}).status_code == 400
    assert http.post("/api/hooks/claude", json=payload("claude", "stop", session_id=None)).status_code == 400
    other = http.post("/api/hooks/claude", json={**good, "hook_event_name": "PostToolUse"})
    assert (other.status_code, other.json()) == (200, {})
    assert http.post("/api/hooks/claude", json=good, headers={"Host": "evil.example"}).status_code == 403
    assert http.post("/api/hooks/claude", json=good, headers={"Origin": "https://evil.example"}).status_code == 403


@pytest.mark.parametrize(
    "text, message",
    [
        ('[hooks]\ntranscript_roots = ["relative/dir"]\n', "hooks.transcript_roots must be absolute"),
        ("[hooks]\nmax_transcript_bytes = 0\n", "hooks.max_transcript_bytes"),
        ("[hooks]\nmin_prompt_chars = -1\n", "hooks.min_prompt_chars"),
        ("[hooks]\nbrief = 3\n", "unknown config key: hooks.brief"),
    ],
)
def test_the_hooks_config_is_checked(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, home=tmp_path, env={})


def test_transcript_lines_become_numbered_turns() -> None:
    data = (FIXTURES / "claude_transcript.jsonl").read_bytes() + b"not json\n" + (FIXTURES / "claude_transcript_more.jsonl").read_bytes()
    turns, has_user = parse_lines(data, 1)
    assert has_user and [(t.sequence, t.role) for t in turns] == [
        (4, "user"), (6, "assistant"), (10, "user"), (11, "assistant"), (13, "user"), (14, "assistant"),
    ]
    no_user = parse_lines((FIXTURES / "claude_transcript_no_user.jsonl").read_bytes(), 1)
    assert no_user == ([Turn(4, "assistant", "Model set to claude-sonnet-4-5.")], False)
