"""A small typed HTTP client for the daemon; the CLI is built on it.

    from aghmem.client import Client
    with Client("http://127.0.0.1:7377") as memory:
        memory.write(type="user", name="Prefers tabs", content="Indent with tabs.")

Errors come back as the same `aghmem.errors` exceptions the daemon raised.
"""

from __future__ import annotations

from typing import Any

import httpx

from .. import errors

_BY_CODE: dict[str, type[errors.AghmemError]] = {
    cls.code: cls
    for cls in (
        errors.ValidationError,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.TooLarge,
        errors.Rejected,
        errors.RateLimited,
        errors.Unsupported,
    )
}


class DaemonUnavailable(errors.AghmemError):
    """No daemon answers at the URL."""

    code = "client.unavailable"


def selector_params(
    scope: str | None = None,
    workspace_id: str | None = None,
    agent_name: str | None = None,
    agent_tier: str | None = None,
) -> dict[str, str]:
    values = {"scope": scope, "workspace_id": workspace_id, "agent_name": agent_name, "agent_tier": agent_tier}
    return {k: v for k, v in values.items() if v}


class Client:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        # A header carries printable ASCII only (httpx raised UnicodeEncodeError).
        if token and not (token.isascii() and token.isprintable()):
            raise errors.ValidationError("the token holds characters an HTTP header cannot carry (printable ASCII only)", field="token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        try:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        except httpx.InvalidURL as exc:
            raise errors.ValidationError(f"{url} is not a valid URL: {exc}", field="url") from None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise DaemonUnavailable(
                f"no aghmem daemon answers at {self.url} ({exc.__class__.__name__}); start one with `aghmem serve`",
                url=self.url,
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                code, message, details = body["code"], body["message"], body.get("details") or {}
            except (ValueError, KeyError, TypeError):
                raise errors.AghmemError(f"HTTP {response.status_code} from {self.url}: {response.text[:200]}") from None
            raise _BY_CODE.get(code, errors.AghmemError)(message, **details)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.request(method, path, **kwargs).json()

    # --- memories ----------------------------------------------------------

    def list_memories(self, *, limit: int = 100, cursor: str | None = None, **selector: str | None) -> dict[str, Any]:
        params = {**selector_params(**selector), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._json("GET", "/api/memory", params=params)

    def get_memory(self, filename: str, **selector: str | None) -> tuple[dict[str, Any], str]:
        """The memory and its ETag (content hash)."""
        response = self.request("GET", f"/api/memory/{filename}", params=selector_params(**selector))
        return response.json()["memory"], response.headers["etag"].strip('"')

    def write(self, **fields: Any) -> dict[str, Any]:
        return self._json("POST", "/api/memory", json={k: v for k, v in fields.items() if v is not None})

    def patch(self, filename: str, fields: dict[str, Any], *, if_match: str | None = None, **selector: str | None) -> dict[str, Any]:
        headers = {"If-Match": f'"{if_match}"'} if if_match else None
        return self._json(
            "PATCH", f"/api/memory/{filename}", params=selector_params(**selector), json=fields, headers=headers
        )

    def delete(self, filename: str, *, if_match: str | None = None, dry_run: bool = False, **selector: str | None) -> dict[str, Any]:
        headers = {"If-Match": f'"{if_match}"'} if if_match else None
        params = {**selector_params(**selector), **({"dry_run": "true"} if dry_run else {})}
        return self._json("DELETE", f"/api/memory/{filename}", params=params, headers=headers)

    # --- decisions ---------------------------------------------------------

    def decisions(self, *, op: str | None = None, since: str | None = None, limit: int = 50, cursor: str | None = None, **selector: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {**selector_params(**selector), "limit": limit}
        params.update({k: v for k, v in {"op": op, "since": since, "cursor": cursor}.items() if v})
        return self._json("GET", "/api/memory/decisions", params=params)

    def decision(self, decision_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/memory/decisions/{decision_id}")["decision"]

    def revert(self, decision_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        return self._json("POST", f"/api/memory/decisions/{decision_id}/revert", json={"dry_run": dry_run})

    # --- search and the index ----------------------------------------------

    def search(self, query_text: str, **options: Any) -> dict[str, Any]:
        body = {"query_text": query_text, **{k: v for k, v in options.items() if v is not None}}
        return self._json("POST", "/api/memory/search", json=body)

    def reindex(self, **selector: str | None) -> dict[str, Any]:
        return self._json("POST", "/api/memory/reindex", json=selector_params(**selector))

    def recall_trace(self, session_id: str, turn_seq: int) -> dict[str, Any]:
        return self._json("GET", f"/api/memory/recall-traces/{session_id}/{turn_seq}")["trace"]

    # --- dreaming and daily logs -------------------------------------------

    def trigger_dream(self, *, force: bool = False, dry_run: bool = False, **selector: str | None) -> dict[str, Any]:
        body = {**selector_params(**selector), "force": force, "dry_run": dry_run}
        return self._json("POST", "/api/memory/dreams/trigger", json=body)

    def dreams(self, *, status: str | None = None, limit: int = 50, **selector: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {**selector_params(**selector), "limit": limit, **({"status": status} if status else {})}
        return self._json("GET", "/api/memory/dreams", params=params)["dreams"]

    def dream(self, dream_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/memory/dreams/{dream_id}")["dream"]

    def dream_status(self, **selector: str | None) -> list[dict[str, Any]]:
        return self._json("GET", "/api/memory/dreams/status", params=selector_params(**selector))["dreams"]

    def retry_dream(self, dream_id: str) -> dict[str, Any]:
        return self._json("POST", f"/api/memory/dreams/{dream_id}/retry", json={})

    def daily_logs(self, *, date: str | None = None, limit: int = 30, **selector: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {**selector_params(**selector), "limit": limit, **({"date": date} if date else {})}
        return self._json("GET", "/api/memory/daily", params=params)["logs"]

    # --- the rest ----------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/api/memory/health")

    def scope_show(self, **selector: str | None) -> dict[str, Any]:
        return self._json("GET", "/api/memory/scope-show", params=selector_params(**selector))

    def add_workspace(self, path: str, *, gitignore: bool = True) -> dict[str, Any]:
        return self._json("POST", "/api/workspaces", json={"path": path, "gitignore": gitignore})

    def move_workspace(self, workspace_id: str, path: str) -> dict[str, Any]:
        return self._json("POST", f"/api/workspaces/{workspace_id}/move", json={"path": path})

    def remove_workspace(self, workspace_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/api/workspaces/{workspace_id}")

    def workspaces(self) -> list[dict[str, Any]]:
        return self._json("GET", "/api/workspaces")["workspaces"]

    def resolve_workspace(self, path: str) -> dict[str, Any] | None:
        """The registered workspace holding `path` (its root or a folder under
        it), as MCP and hooks resolve it; None outside every root."""
        return self._json("GET", "/api/workspaces/resolve", params={"path": path})["workspace"]
