"""Memory configurations (seed 002, COMPAT §2): list, get, create-or-update
and delete the YAML files under HOME/compat/configs, through the
controller. `MemoryService` inherits these; the CFG face calls them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, NotFound, Rejected
from ..features.configs import cursor
from ..features.configs.store import check_id, check_project
from ..model import Decision, Op

if TYPE_CHECKING:
    from .runtime import Runtime

ORIGIN = "compat-cfg"
DEFAULT_LIMIT, MAX_LIMIT = 50, 500


@dataclass
class ConfigPage:
    memories: list[dict[str, Any]]
    page: dict[str, Any]
    next_cursor: str | None = None
    prev_cursor: str | None = None


@dataclass
class ConfigWritten:
    config: dict[str, Any]
    etag: str
    created: bool
    decision: Decision | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def page_limit(raw: str | None) -> int:
    """compozy's LimitOrDefault(50, 500): not a positive integer → 50; over 500 → 500."""
    try:
        value = int(raw) if raw is not None else 0
    except ValueError:
        return DEFAULT_LIMIT
    return DEFAULT_LIMIT if value <= 0 else min(value, MAX_LIMIT)


class Configurations:
    """Mixed into MemoryService (which provides `runtime`)."""

    runtime: "Runtime"

    def _project(self, project: str | None) -> str:
        return check_project(project if project is not None else self.runtime.config.compat.cfg.default_project)

    def list_configs(self, project: str | None, *, limit: str | None, cursor_text: str | None, q: str | None) -> ConfigPage:
        store = self.runtime.configs.store
        name = self._project(project)
        size = page_limit(limit)
        ids = [i for i in store.ids(name) if not q or i.startswith(q)]
        valid = []
        for config_id in ids:  # a broken file is left out (health lists it)
            try:
                stored = store.read(name, config_id)
            except Exception:  # noqa: BLE001 - BrokenConfig or unreadable: not listed
                continue
            if stored is not None:
                valid.append((config_id, stored))
        by_id = dict(valid)
        window = cursor.page(list(by_id), size, cursor_text or None)
        items = [{**by_id[i].config, "etag": by_id[i].etag} for i in window.ids]
        page: dict[str, Any] = {"limit": size, "total": len(by_id)} if by_id else {"limit": size}
        for key, value in (("next_cursor", window.next_cursor), ("prev_cursor", window.prev_cursor)):
            if value:
                page[key] = value
        return ConfigPage(items, page, window.next_cursor, window.prev_cursor)

    def get_config(self, project: str | None, config_id: str) -> tuple[dict[str, Any], str]:
        store = self.runtime.configs.store
        name, config_id = self._project(project), check_id(config_id)
        store.observe(name, config_id)  # a hand edit is on the record before it is served
        stored = store.read(name, config_id)
        if stored is None:
            raise NotFound(f"memory {config_id!r} not found", memory_id=config_id)
        return stored.config, stored.etag

    def put_config(self, project: str | None, config_id: str, body: dict[str, Any], *, if_match: list[str] | None) -> ConfigWritten:
        store = self.runtime.configs.store
        name, config_id = self._project(project), check_id(config_id)
        try:
            decision, stored = store.put(name, config_id, body, if_match=if_match, origin=ORIGIN)
        except Rejected as exc:
            raise Rejected(f"memory config ID '{config_id}': {exc.message}", **exc.details) from None
        return ConfigWritten(stored.config, stored.etag, decision.op is Op.ADD, decision)

    def delete_config(self, project: str | None, config_id: str) -> Decision:
        store, bindings = self.runtime.configs.store, self.runtime.configs.bindings
        name, config_id = self._project(project), check_id(config_id)
        references = bindings.references(name, config_id)
        if references:
            raise Conflict(
                f"resource referenced by {len(references)} collection(s): scopes",
                references=[{"resource": "scopes", "ids": references}],
            )
        return store.delete(name, config_id, origin=ORIGIN)

    def broken_configs(self) -> list[dict[str, str]]:
        return self.runtime.configs.store.broken()

    def configs_view(self) -> dict[str, Any]:
        """compat.cfg.effective: per bound pattern, its config and the fields enforced."""
        return self.runtime.configs.bindings.view()
