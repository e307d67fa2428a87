"""`aghmem integrate`: golden files for each runtime, before → installed →
removed (= before, byte for byte), run twice, dry runs, files it must not
touch. Every run has its own HOME and project directory: nothing is written
to the real ~.

The matrix runs the CLI in this process (fast); the end-to-end tests run the
`aghmem` program. Set UPDATE_GOLDEN=1 to rewrite the `installed/` trees
(then read the diff: the golden files are the specification).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aghmem.faces.cli.integrate import aghmem_program
from aghmem.faces.cli.main import main
from aghmem.faces.integrations import is_our_hook, with_codex_server, with_hooks, without_codex_server
from aghmem.faces.setup import hook_groups, mcp_entry, mcp_snippets
from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "integrate"
AGHMEM = str(Path(sys.executable).with_name("aghmem"))
PLACEHOLDER = "@AGHMEM@"
CASES = {
    "claude-user": ["claude"],
    "claude-project": ["claude", "--project", "--hooks", "command"],
    "codex-user": ["codex"],
    "codex-project": ["codex", "--project"],
    "cursor-user": ["cursor"],
    "cursor-project": ["cursor", "--project"],
}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (its home/ and project/), by relative path;
    an empty directory shows as itself."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_bytes()
        elif path.is_dir() and not any(path.iterdir()) and path.name not in ("home", "project"):
            found[path.relative_to(root).as_posix() + "/"] = b""
    return found


def golden(case: str, stage: str, program: str) -> dict[str, bytes]:
    files = tree(GOLDEN / case / stage) if (GOLDEN / case / stage).is_dir() else {}
    return {name: data.replace(PLACEHOLDER.encode(), program.encode()) for name, data in files.items()}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/home (HOME) and tmp/project (the current directory); no aghmem
    config, so the URL is the default one."""
    for name in ("home", "project"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AGHMEM_HOME", str(tmp_path / "aghmem-home"))
    for name in ("AGHMEM_URL", "AGHMEM_PORT", "AGHMEM_TOKEN", "AGHMEM_CONFIG", "CODEX_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path


def seed(sandbox: Path, case: str) -> None:
    before = GOLDEN / case / "before"
    if before.is_dir():
        shutil.copytree(before, sandbox, dirs_exist_ok=True)


def integrate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["integrate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def files_of(sandbox: Path) -> dict[str, bytes]:
    return {name: data for name, data in tree(sandbox).items() if name.startswith(("home/", "project/"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_install_then_remove(case: str, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(sandbox, case)
    before = files_of(sandbox)
    program = aghmem_program()
    code, out, _ = integrate(capsys, *CASES[case])
    assert code == 0
    installed = files_of(sandbox)
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN / case / "installed", ignore_errors=True)
        for name, data in installed.items():
            target = GOLDEN / case / "installed" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.replace(program.encode(), PLACEHOLDER.encode()))
    assert installed == golden(case, "installed", program)
    assert "created" in out or "updated" in out

    # Twice: nothing changes, and it says so.
    code, out, _ = integrate(capsys, *CASES[case])
    assert code == 0 and files_of(sandbox) == installed
    assert out.count("unchanged:") == out.count("\n  ")

    code, out, _ = integrate(capsys, *CASES[case], "--remove")
    assert code == 0 and files_of(sandbox) == before
    code, out, _ = integrate(capsys, *CASES[case], "--remove")
    assert code == 0 and files_of(sandbox) == before and "unchanged:" in out


@pytest.mark.parametrize("case", ["claude-user", "codex-user"])
def test_dry_run_writes_nothing_and_shows_the_diff(case: str, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(sandbox, case)
    before = files_of(sandbox)
    code, out, _ = integrate(capsys, *CASES[case], "--dry-run")
    assert code == 0 and files_of(sandbox) == before
    assert "dry run, nothing written" in out and "would be updated:" in out
    assert '+    "aghmem": {' in out or '+[mcp_servers.aghmem]' in out
    integrate(capsys, *CASES[case])
    installed = files_of(sandbox)
    code, out, _ = integrate(capsys, *CASES[case], "--remove", "--dry-run")
    assert code == 0 and files_of(sandbox) == installed
    assert "-[mcp_servers.aghmem]" in out or '-    "aghmem": {' in out


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("home/.claude/settings.json", '{"hooks": {"Stop": [}', "is not valid JSON"),
        ("home/.claude/settings.json", '["not", "an", "object"]', "is not an object"),
        ("home/.claude/settings.json", '{"hooks": {"Stop": {"command": "x"}}}', "hooks.Stop is not a list"),
        ("home/.claude.json", '{"mcpServers": []}', "mcpServers is not an object"),
    ],
)
def test_a_malformed_file_stops_everything(
    name: str, text: str, message: str, sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(sandbox, "claude-user")
    (sandbox / name).write_text(text)
    before = files_of(sandbox)
    code, out, err = integrate(capsys, "claude")
    assert code == 1 and out == ""
    assert message in err and name.split("/")[-1] in err and "nothing was changed" in err
    assert files_of(sandbox) == before  # the other, valid file too


def test_malformed_toml_is_left_as_it_is(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = sandbox / "home" / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('model = "o3"\n[mcp_servers\n')
    code, _, err = integrate(capsys, "codex")
    assert code == 1 and "config.toml is not valid TOML" in err
    assert config.read_text() == 'model = "o3"\n[mcp_servers\n' and not (config.parent / "hooks.json").exists()


def test_only_our_entries_are_taken_back(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user's handler in the same group as ours stays, and so does a
    server of theirs added after ours."""
    integrate(capsys, "claude", "--hooks", "command")
    settings_path = sandbox / "home" / ".claude" / "settings.json"
    settings = json.loads(settings_path.read_text())
    settings["hooks"]["Stop"][0]["hooks"].append({"type": "command", "command": "say stopped"})
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")
    user = json.loads((sandbox / "home" / ".claude.json").read_text())
    user["mcpServers"]["later"] = {"type": "http", "url": "https://example.com/mcp"}
    (sandbox / "home" / ".claude.json").write_text(json.dumps(user, indent=2))
    integrate(capsys, "claude", "--remove")
    assert json.loads(settings_path.read_text()) == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say stopped"}]}]}}
    assert json.loads((sandbox / "home" / ".claude.json").read_text()) == {"mcpServers": {"later": user["mcpServers"]["later"]}}


def test_a_new_port_updates_our_entries_in_place(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(sandbox, "codex-user")
    integrate(capsys, "codex")
    (sandbox / "aghmem-home").mkdir()
    (sandbox / "aghmem-home" / "config.toml").write_text("[server]\nport = 7400\n")
    code, out, _ = integrate(capsys, "codex")
    assert code == 0 and out.count("updated:") == 1 and "unchanged:" in out  # the hooks run a command: no port in them
    config = (sandbox / "home" / ".codex" / "config.toml").read_text()
    assert config.count("[mcp_servers.aghmem]") == 1 and 'url = "http://127.0.0.1:7400/mcp"' in config
    assert config.startswith("# Codex settings, written by hand: the comments stay.\n")
    integrate(capsys, "codex", "--remove")
    assert files_of(sandbox) == {n: d for n, d in tree(GOLDEN / "codex-user" / "before").items()}


def test_codex_home_and_symlinked_dotfiles(sandbox: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """$CODEX_HOME is where Codex reads; a config kept as a symlink into a
    dotfiles repository is written through and stays a link."""
    dotfiles = sandbox / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "config.toml").write_text('model = "o3"\n')
    codex_home = sandbox / "elsewhere"
    codex_home.mkdir()
    (codex_home / "config.toml").symlink_to(dotfiles / "config.toml")
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    code, _, _ = integrate(capsys, "codex")
    assert code == 0 and (codex_home / "config.toml").is_symlink() and (codex_home / "hooks.json").is_file()
    assert (dotfiles / "config.toml").read_text() == 'model = "o3"\n\n[mcp_servers.aghmem]\nurl = "http://127.0.0.1:7377/mcp"\n'
    integrate(capsys, "codex", "--remove")
    assert (codex_home / "config.toml").is_symlink() and (dotfiles / "config.toml").read_text() == 'model = "o3"\n'
    assert not (sandbox / "home" / ".codex").exists() and not (codex_home / "hooks.json").exists()


def test_the_program_end_to_end(sandbox: Path) -> None:
    """The installed `aghmem`: hooks name it by absolute path, --url wins
    over the config, --json tells what it did, a bad file exits 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGHMEM_")}
    env.update(HOME=str(sandbox / "home"), AGHMEM_HOME=str(sandbox / "aghmem-home"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AGHMEM, *args], cwd=sandbox / "project", env=env, capture_output=True, text=True, timeout=60)

    result = run("--url", "http://127.0.0.1:9123", "--json", "integrate", "claude", "--project", "--hooks", "command")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["action"] for f in report["files"]] == ["created", "created"] and report["scope"] == "project"
    mcp = json.loads((sandbox / "project" / ".mcp.json").read_text())
    assert mcp == {"mcpServers": {"aghmem": {"type": "http", "url": "http://127.0.0.1:9123/mcp"}}}
    hooks = json.loads((sandbox / "project" / ".claude" / "settings.json").read_text())["hooks"]
    assert hooks["UserPromptSubmit"][0]["hooks"][0]["command"] == f"{AGHMEM} hook user-prompt-submit --runtime claude"
    assert os.path.isabs(AGHMEM) and list(hooks) == ["SessionStart", "UserPromptSubmit", "PreCompact", "Stop", "SessionEnd"]
    (sandbox / "project" / ".mcp.json").write_text("{oops")
    failed = run("integrate", "claude", "--project", "--remove")
    assert failed.returncode == 1 and "is not valid JSON" in failed.stderr and failed.stdout == ""
    assert (sandbox / "project" / ".claude" / "settings.json").exists()


def test_a_registered_project_names_its_workspace(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An HTTP client sends no directory: a project's entry carries the
    workspace id from `.agh/workspace.toml`, so it sees that workspace."""
    (sandbox / "project" / ".agh").mkdir()
    (sandbox / "project" / ".agh" / "workspace.toml").write_text('id = "ws_0123abcd"\n')
    code, _, err = integrate(capsys, "cursor", "--project")
    assert code == 0, err
    mcp = json.loads((sandbox / "project" / ".cursor" / "mcp.json").read_text())
    assert mcp["mcpServers"]["aghmem"]["url"] == "http://127.0.0.1:7377/w/ws_0123abcd/mcp"
    code, _, err = integrate(capsys, "cursor")  # user-wide: no workspace
    assert code == 0, err
    assert json.loads((sandbox / "home" / ".cursor" / "mcp.json").read_text())["mcpServers"]["aghmem"]["url"] == "http://127.0.0.1:7377/mcp"


# --- the pure merges --------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("/opt/venv/bin/aghmem hook stop --runtime claude", True),
        ("'/Users/me/My Tools/aghmem' hook session-start --runtime codex", True),
        ("/usr/bin/python3 -m aghmem hook stop", True),
        ("aghmem mcp --stdio", False),
        ("echo aghmem hook", False),
        ("myaghmem hook stop", False),
        ("'unclosed", False),
    ],
)
def test_which_commands_are_ours(command: str, ours: bool) -> None:
    assert is_our_hook({"type": "command", "command": command}) is ours


def test_which_urls_are_ours() -> None:
    assert is_our_hook({"type": "http", "url": "http://127.0.0.1:7377/api/hooks/claude"})
    assert not is_our_hook({"type": "http", "url": "http://127.0.0.1:8080/api/hooks/deploy"})
    assert not is_our_hook({"type": "prompt", "prompt": "aghmem hook"}) and not is_our_hook("aghmem hook")


@pytest.mark.parametrize(
    "text",
    [
        "",
        'model = "o3"',
        'model = "o3"\n\n[[skills]]\nname = "a"\n',
        '[mcp_servers]\n\n[mcp_servers.github]\nurl = "http://x"\n',
        'mcp_servers = { github = { url = "x" } }\n',
        'mcp_servers.github.url = "x"\n',
    ],
)
def test_codex_server_in_any_layout(text: str) -> None:
    url = "http://127.0.0.1:7377/mcp"
    installed = with_codex_server(text, url)
    assert with_codex_server(installed, url) == installed
    removed = without_codex_server(installed)
    assert removed == text or (not text.endswith("\n") and removed == text + "\n")
    assert without_codex_server(removed) == removed


def test_a_stdio_entry_of_ours_becomes_http() -> None:
    text = '[mcp_servers.aghmem]\ncommand = "aghmem"\nargs = ["mcp", "--stdio"]\n\n[x]\ny = 1\n'
    assert with_codex_server(text, "http://h/mcp") == '[mcp_servers.aghmem]\nurl = "http://h/mcp"\n\n[x]\ny = 1\n'


def test_ours_go_last_so_codex_keeps_trusting_the_users_hooks() -> None:
    groups = hook_groups("codex", aghmem="aghmem", base_url="http://h")
    mine: dict[str, Any] = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "log"}]}]}}
    merged = with_hooks(mine, groups)
    assert merged["hooks"]["Stop"][0] == mine["hooks"]["Stop"][0] and len(merged["hooks"]["Stop"]) == 2
    assert with_hooks(merged, groups) is merged


def test_snippets_for_the_inspector_still_work() -> None:
    snippets = {s.runtime: s for s in mcp_snippets("http://127.0.0.1:7377", "ws_abc")}
    assert json.loads(snippets["claude"].text)["mcpServers"]["aghmem"] == {"type": "http", "url": "http://127.0.0.1:7377/w/ws_abc/mcp"}


def test_the_readme_shows_what_integrate_writes() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Use it from your agent") :]
    section = section[: section.index("\n## ")]
    blocks = re.findall(r"```(json|toml)\n(.*?)```", section, re.S)
    base, url = "http://127.0.0.1:7377", "http://127.0.0.1:7377/mcp"
    program = "/path/to/aghmem"
    assert [json.loads(body) for kind, body in blocks if kind == "json"] == [
        {"mcpServers": {"aghmem": mcp_entry("claude", url)}},
        {"hooks": hook_groups("claude", aghmem=program, base_url=base, transport="http")},
        {"hooks": hook_groups("codex", aghmem=program, base_url=base)},
        {"mcpServers": {"aghmem": mcp_entry("cursor", url)}},
    ]
    assert [body for kind, body in blocks if kind == "toml"] == [with_codex_server("", url)]
