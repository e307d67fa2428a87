"""`aghmem completion bash|zsh` completes what the parser knows, in a real bash."""

from __future__ import annotations

import subprocess

import pytest

from aghmem.faces.cli.main import main


def complete(script: str, *words: str) -> list[str]:
    """What bash offers for the last of `words` (after `aghmem`)."""
    line = " ".join(words)
    program = f"""{script}
COMP_WORDS=(aghmem {line}); COMP_CWORD={len(words)}; _aghmem; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True).stdout
    return [w for w in out.splitlines() if w]


@pytest.fixture(scope="module")
def script() -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["completion", "bash"]) == 0
    return buffer.getvalue()


def test_commands_subcommands_and_flags_complete(script: str) -> None:
    assert complete(script, "mem") == ["memory"]
    assert complete(script, "workspace", "m") == ["move"]
    assert complete(script, "decisions", "list", "--s") == ["--scope", "--since"]
    assert "integrate" in complete(script, "")
    assert complete(script, "integrate", "--d") == ["--dry-run"]
    assert complete(script, "nosuch", "x") == []


def test_zsh_gets_the_bash_script_through_bashcompinit(capsys: pytest.CaptureFixture[str], script: str) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("autoload -U +X bashcompinit && bashcompinit\n") and out.endswith(script)
