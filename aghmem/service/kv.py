"""MemoryService's methods for key-value agent memory (seed 003, COMPAT.md
§3; the work is in features/kv.py): read an agent's keys (or every
agent's), write one key or many, sweep the blobs no card needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..features.kv import KeyValueStore, parse_write

if TYPE_CHECKING:
    from .runtime import Runtime


class KeyValue:
    """Mixed into MemoryService (service.py), which has the runtime."""

    runtime: Runtime

    @property
    def _kv(self) -> KeyValueStore:
        return self.runtime.kv

    def kv_read(self, agent_id: str | None) -> dict[str, Any]:
        """`{memory, agentId, count, lastUpdated}` of one agent, or of all
        (None, "" or "all": later `updated_at` wins a key two agents hold)."""
        return self._kv.read(agent_id)

    def kv_write(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A seed 003 POST body (single key, or bulk): checked whole, each key
        dry-run through the controller, then applied. ValidationError,
        NotFound (auto_create_agents off), Rejected, RateLimited."""
        kv = self._kv
        request = parse_write(body, kv.config)
        saved, keys = kv.write(request, self.runtime.now())
        if request.single:
            [key] = request.values
            return {"success": True, "agentId": request.agent_id, "key": key, "saved": saved}
        return {"success": True, "agentId": request.agent_id, "keysUpdated": keys, "saved": saved}

    def kv_problems(self) -> list[str]:
        """KV cards whose value cannot be read (a hand edit, a missing blob)."""
        return self._kv.problems()

    def sweep_kv_blobs(self) -> int:
        """Delete blobs no card and no recent decision names (the daily sweep runs it)."""
        return self._kv.sweep_blobs(self.runtime.catalog, self.runtime.clock())
