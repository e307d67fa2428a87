"""MemoryService's methods for agent runtimes' lifecycle hooks (INTEGRATIONS
§2; the work is in features/hooks.py): context for a prompt, a brief for a
new session, a transcript's new turns into the session ledger. Each works
where the hook's `cwd` is, through the one workspace resolver
(`MemoryService.workspace_for`), so a memory written through MCP or the CLI
is what a hook recalls."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..features.hooks import Capture

if TYPE_CHECKING:
    from .runtime import Runtime


class HookMethods:
    """Mixed into MemoryService (service.py), which has the runtime and the resolver."""

    runtime: Runtime

    if TYPE_CHECKING:

        def workspace_for(self, given: str | None = None, *, cwd: str | Path | None = None) -> str | None: ...

    def prompt_context(self, prompt: str, *, cwd: str | None = None, session_id: str | None = None) -> str:
        """UserPromptSubmit: implicit recall for the prompt (the relevance
        floor applies; what the session was shown is left out), fenced as
        data; "" for nothing."""
        return self.runtime.hooks.prompt_context(prompt, self.workspace_for(cwd=cwd), session_id, self.runtime.clock())

    def session_brief(self, *, cwd: str | None = None, session_id: str | None = None) -> str:
        """SessionStart: the most useful memories, fenced as data; "" for none."""
        return self.runtime.hooks.session_brief(self.workspace_for(cwd=cwd), session_id, self.runtime.clock())

    def capture_transcript(
        self, session_id: str, path: str | None, *, cwd: str | None, source: str, event: str, stop: str | None = None
    ) -> Capture:
        """Stop, PreCompact, SessionEnd: the transcript's new turns into the
        session's ledger; `stop` (a reason) closes it after them."""
        return self.runtime.hooks.capture(self.workspace_for(cwd=cwd), session_id, path, source=source, event=event, stop=stop)
