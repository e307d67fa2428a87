"""Where each scope lives on disk, the workspace registry, and path safety.

Every path the daemon reads or writes for a memory comes from here, and each
is checked to stay inside its memory root after symlinks are resolved.
"""

from __future__ import annotations

import os
import secrets
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import tomli_w

from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..model import GLOBAL, Scope, Selector, Tier, check_agent_name, check_workspace_id
from .filenames import check_filename
from .files import atomic_write, utc_now

_AGENT_DIR_OK = check_agent_name


@dataclass(frozen=True)
class Workspace:
    id: str
    path: Path
    added_at: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "path": str(self.path), "added_at": self.added_at}


def _check_plain_path(raw: object, what: str) -> Path:
    if not isinstance(raw, str) or not raw:
        raise ValidationError(f"{what} must be a non-empty string", field="path")
    if "\x00" in raw:
        raise ValidationError(f"{what} contains a NUL byte", field="path")
    path = Path(raw)
    if not path.is_absolute():
        raise ValidationError(f"{what} must be an absolute path", field="path", path=raw)
    if ".." in path.parts:
        raise ValidationError(f"{what} must not contain '..'", field="path", path=raw)
    return path


def expand_home(raw: str, what: str, **details: object) -> Path:
    """`raw` with a leading `~` or `~user` expanded. Path.expanduser raises
    RuntimeError for a user this machine does not have (or no home at all):
    that is the caller's mistake, not the daemon's."""
    try:
        return Path(raw).expanduser()
    except RuntimeError:
        user = raw.split("/", 1)[0][1:]
        raise ValidationError(f"{what} starts with ~{user}: there is no user named {user}", **details) from None


def _is_dir(path: Path) -> bool:
    """Whether `path` is a directory; False for one the system cannot even
    look up (a name over NAME_MAX, no permission on a parent)."""
    try:
        return path.is_dir()
    except OSError:
        return False


# `.agh/.gitignore`, written when a workspace is registered (unless asked
# not to, or one is there): the memories and workspace.toml are shared
# through git; what is per machine or regenerated is not.
GITIGNORE = """\
# Written by aghmem. Commit workspace.toml and the memories (*.md under
# memory/ and agents/*/memory/); these are per machine or regenerated:
tmp/
memory/MEMORY.md
memory/_system/
memory/_inbox/
agents/*/memory/MEMORY.md
agents/*/memory/_system/
agents/*/memory/_inbox/
"""


def write_gitignore(root: Path) -> bool:
    """`.agh/.gitignore` in a workspace root, unless one is there."""
    target = root / ".agh" / ".gitignore"
    if target.exists() or target.is_symlink():
        return False
    try:
        atomic_write(target, GITIGNORE.encode("utf-8"))
    except OSError:
        return False  # a root whose .agh is read-only (its marker committed): the answer says none was written
    return True


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path`, with symlinks resolved, is `root` or below it."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
    except OSError:
        return False


class WorkspaceRegistry:
    """Registered workspace roots, kept in `HOME/workspaces.toml`."""

    def __init__(self, home: Path, *, toml_path: str, auto_create: bool) -> None:
        self.file = home / "workspaces.toml"
        self.toml_path = toml_path
        self.auto_create = auto_create
        self._lock = threading.Lock()
        self._by_id: dict[str, Workspace] = {}
        self._load()

    def _load(self) -> None:
        try:
            data = tomllib.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        for item in data.get("workspace", []):
            ws = Workspace(id=item["id"], path=Path(item["path"]), added_at=item.get("added_at", ""))
            self._by_id[ws.id] = ws

    def _save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = {"workspace": [ws.to_dict() for ws in self._by_id.values()]}
        atomic_write(self.file, tomli_w.dumps(data).encode("utf-8"))

    def list(self) -> list[Workspace]:
        return sorted(self._by_id.values(), key=lambda ws: (ws.added_at, ws.id))

    def __contains__(self, workspace_id: object) -> bool:
        return workspace_id in self._by_id

    def get(self, workspace_id: str) -> Workspace:
        try:
            return self._by_id[workspace_id]
        except KeyError:
            raise NotFound(f"unknown workspace {workspace_id!r}; register it with POST /api/workspaces", workspace_id=workspace_id) from None

    def containing(self, path: Path) -> Workspace | None:
        """The registered root that holds `path` (itself or a folder under
        it; the deepest when roots nest), or None."""
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            return None
        best: Workspace | None = None
        for ws in self._by_id.values():
            if (real == ws.path or ws.path in real.parents) and (best is None or len(ws.path.parts) > len(best.path.parts)):
                best = ws
        return best

    def _checked_root(self, raw_path: object) -> Path:
        """An existing directory that can be a workspace root: not `/`, not
        the user's home, not inside aghmem's home or another workspace's
        `.agh` (memories there would be indexed twice, or nowhere)."""
        given = _check_plain_path(raw_path, "workspace path")
        if not _is_dir(given):
            raise ValidationError("workspace path is not an existing directory", field="path", path=str(given))
        root = Path(os.path.realpath(given))
        home = Path(os.path.realpath(self.file.parent))
        if root == Path(root.anchor) or root == Path(os.path.realpath(Path.home())):
            raise ValidationError(f"{root} is too broad to be a workspace: register a project directory", field="path", path=str(root))
        if root.is_relative_to(home) or home.is_relative_to(root):
            raise ValidationError(f"{root} overlaps aghmem's home {home}: register a project directory", field="path", path=str(root))
        for ws in self._by_id.values():
            if root.is_relative_to(ws.path / ".agh"):
                raise ValidationError(f"{root} is inside workspace {ws.id}'s memory directory", field="path", path=str(root))
        return root

    def register(self, raw_path: object) -> tuple[Workspace, bool]:
        """Register a root; returns the workspace and whether it is new here."""
        return self._register_root(self._checked_root(raw_path))

    def register_synthetic(self, root: Path, *, under: Path) -> tuple[Workspace, bool]:
        """Register a root aghmem made itself inside its own home (a compat
        namespace): allowed only strictly below `under`, which must lie in
        aghmem's home. People's roots go through `register`, which refuses
        the home altogether."""
        real = Path(os.path.realpath(root))
        base = Path(os.path.realpath(under))
        home = Path(os.path.realpath(self.file.parent))
        if not base.is_relative_to(home) or real == base or not real.is_relative_to(base) or not _is_dir(real):
            raise ValidationError(f"{root} is not a synthetic root under {under}", path=str(root))
        return self._register_root(real)

    def _register_root(self, root: Path) -> tuple[Workspace, bool]:
        marker = root / self.toml_path
        if not is_inside(marker.parent, root):
            raise ValidationError("the workspace's .agh directory points outside the workspace", path=str(root))
        with self._lock:
            workspace_id = self._read_marker(marker) or self._create_marker(marker)
            known = self._by_id.get(workspace_id)
            if known is not None:
                if known.path == root:
                    return known, False
                if self._read_marker(known.path / self.toml_path) == workspace_id:
                    raise Conflict(
                        f"workspace id {workspace_id} is already registered for {known.path}; "
                        f"give one of the copies a new id by deleting its {self.toml_path}",
                        workspace_id=workspace_id,
                        path=str(known.path),
                    )
            # New, or moved: the old root no longer carries this id.
            ws = Workspace(id=workspace_id, path=root, added_at=known.added_at if known else utc_now())
            self._by_id[workspace_id] = ws
            self._save()
            return ws, known is None

    def move(self, workspace_id: str, raw_path: object) -> Workspace:
        """Point a workspace at its new root (moved with `mv`: the marker
        there must carry its id)."""
        known = self.get(workspace_id)
        root = self._checked_root(raw_path)
        found = self._read_marker(root / self.toml_path)
        if found != workspace_id:
            holds = f"holds {found}" if found else "is missing"
            raise ValidationError(
                f"{root / self.toml_path} {holds}: that is not where {workspace_id} moved to", field="path", path=str(root)
            )
        with self._lock:
            moved = Workspace(id=workspace_id, path=root, added_at=known.added_at)
            self._by_id[workspace_id] = moved
            self._save()
        return moved

    def remove(self, workspace_id: str) -> Workspace:
        """Forget a workspace (its files stay where they are)."""
        with self._lock:
            gone = self.get(workspace_id)
            del self._by_id[workspace_id]
            self._save()
        return gone

    def missing(self) -> list[Workspace]:
        """Registered workspaces whose root is gone (moved or deleted)."""
        return [ws for ws in self.list() if not ws.path.is_dir()]

    def _read_marker(self, marker: Path) -> str | None:
        try:
            data = tomllib.loads(marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{marker} is not valid TOML: {exc}", path=str(marker)) from None
        except OSError as exc:  # `.agh` is a file, the marker a folder, no permission…
            raise ValidationError(f"cannot read {marker}: {exc.strerror}", field="path", path=str(marker)) from None
        try:
            return check_workspace_id(data.get("id"))
        except ValidationError:
            raise ValidationError(f"{marker} needs id = \"ws_<lowercase letters and digits>\"", path=str(marker)) from None

    def _create_marker(self, marker: Path) -> str:
        if not self.auto_create:
            raise ValidationError(
                f"{marker.parent.parent} is not a workspace (no {self.toml_path}) and workspace.auto_create is off",
                path=str(marker.parent.parent),
            )
        workspace_id = "ws_" + secrets.token_hex(8)
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(marker, tomli_w.dumps({"id": workspace_id}).encode("utf-8"))
        except OSError as exc:
            raise ValidationError(
                f"cannot create {marker} ({exc.strerror}): register a directory aghmem can write in", field="path", path=str(marker)
            ) from None
        return workspace_id


class Layout:
    """Maps selectors to directories under HOME and the workspace roots."""

    def __init__(self, home: Path, registry: WorkspaceRegistry) -> None:
        self.home = home
        self.registry = registry

    @property
    def global_dir(self) -> Path:
        return self.home / "memory"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def trust_root(self, selector: Selector) -> Path:
        """The directory a scope's files must stay inside."""
        if selector.workspace_id and (selector.scope is Scope.WORKSPACE or selector.agent_tier is Tier.WORKSPACE):
            ws = self.registry.get(selector.workspace_id)
            if not ws.path.is_dir():
                # Never recreate a moved workspace's old directories.
                raise Conflict(
                    f"workspace {ws.id}'s root {ws.path} is missing; if it moved, run "
                    f"`aghmem workspace move {ws.id} NEWPATH`, or `aghmem workspace remove {ws.id}` to forget it",
                    workspace_id=ws.id,
                    path=str(ws.path),
                )
            return ws.path
        return self.home

    def scope_dir(self, selector: Selector) -> Path:
        if selector.scope is Scope.GLOBAL:
            return self.global_dir
        if selector.scope is Scope.WORKSPACE:
            return self.trust_root(selector) / ".agh" / "memory"
        assert selector.agent_name is not None
        if selector.agent_tier is Tier.GLOBAL:
            return self.home / "agents" / selector.agent_name / "memory"
        return self.trust_root(selector) / ".agh" / "agents" / selector.agent_name / "memory"

    def checked_scope_dir(self, selector: Selector, *, create: bool = False) -> Path:
        directory = self.scope_dir(selector)
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        if directory.exists() and not is_inside(directory, self.trust_root(selector)):
            raise Forbidden("the memory directory of this scope points outside its root", path=str(directory))
        return directory

    def scope_files(self, selector: Selector) -> "ScopeFiles":
        """A scope's directory and temp directory, resolved and checked once
        (a write asks for several paths in them)."""
        return ScopeFiles(self.checked_scope_dir(selector), self.tmp_dir(selector))

    def file_path(self, selector: Selector, filename: str, *, create_dir: bool = False) -> Path:
        """The path of one memory file, refusing anything that leaves the scope."""
        return ScopeFiles(self.checked_scope_dir(selector, create=create_dir), Path()).path(filename)

    def scope_dirs(self) -> Iterator[tuple[Selector, Path]]:
        """Every scope that exists on disk: global, agents, workspaces."""
        yield GLOBAL, self.global_dir
        for name in _agent_names(self.home / "agents"):
            yield Selector(Scope.AGENT, agent_name=name, agent_tier=Tier.GLOBAL), self.home / "agents" / name / "memory"
        for ws in self.registry.list():
            if not ws.path.is_dir():
                continue  # moved or deleted: reported by health, left alone
            yield Selector(Scope.WORKSPACE, workspace_id=ws.id), ws.path / ".agh" / "memory"
            for name in _agent_names(ws.path / ".agh" / "agents"):
                yield (
                    Selector(Scope.AGENT, workspace_id=ws.id, agent_name=name, agent_tier=Tier.WORKSPACE),
                    ws.path / ".agh" / "agents" / name / "memory",
                )

    def tmp_dir(self, selector: Selector) -> Path:
        """Where this scope's temp files are written: on the same filesystem,
        outside what the watcher covers (created on demand)."""
        directory = self.tmp_path(selector)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def tmp_path(self, selector: Selector) -> Path:
        """`tmp_dir` without creating it: for looking, so that a scan of a
        workspace whose folder was deleted does not bring part of it back."""
        root = self.trust_root(selector)
        return self.state_dir / "tmp" if root == self.home else root / ".agh" / "tmp"

    def scope_for_dir(self, directory: Path) -> Selector | None:
        """The scope whose memory directory this is, if any (no I/O)."""
        if directory.name != "memory":
            return None
        parent = directory.parent
        if directory == self.global_dir:
            return GLOBAL
        if parent.parent == self.home / "agents":
            return _agent_selector(parent.name, None)
        for ws in self.registry.list():
            agh = ws.path / ".agh"
            if parent == agh:
                return Selector(Scope.WORKSPACE, workspace_id=ws.id)
            if parent.parent == agh / "agents":
                return _agent_selector(parent.name, ws.id)
        return None

    def watch_roots(self) -> list[Path]:
        """Directories a watcher covers (recursively) to see every scope,
        including agents and scopes created later."""
        roots = [self.global_dir, self.home / "agents"]
        for ws in self.registry.list():
            if ws.path.is_dir():
                roots += [ws.path / ".agh" / "memory", ws.path / ".agh" / "agents"]
        return roots

    def roots(self, selector: Selector) -> dict[str, str]:
        """The directories a reader with `selector` sees, by scope label."""
        labels = {0: "global", 1: "workspace", 2: "agent_global", 3: "agent_workspace"}
        return {labels[s.depth]: str(self.scope_dir(s)) for s in selector.visible_scopes()}


def _agent_selector(name: str, workspace_id: str | None) -> Selector | None:
    try:
        _AGENT_DIR_OK(name)
    except ValidationError:
        return None
    if workspace_id is None:
        return Selector(Scope.AGENT, agent_name=name, agent_tier=Tier.GLOBAL)
    return Selector(Scope.AGENT, workspace_id=workspace_id, agent_name=name, agent_tier=Tier.WORKSPACE)


def _agent_names(agents_dir: Path) -> list[str]:
    try:
        names = sorted(os.listdir(agents_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    valid = []
    for name in names:
        try:
            _AGENT_DIR_OK(name)
        except ValidationError:
            continue
        if (agents_dir / name / "memory").is_dir():
            valid.append(name)
    return valid


@dataclass(frozen=True)
class ScopeFiles:
    """One scope's memory directory (checked to lie inside its root) and the
    unwatched directory its temp files go to."""

    directory: Path
    tmp_dir: Path

    def path(self, filename: str) -> Path:
        """A memory file's path, refusing names and symlinks that leave the scope."""
        check_filename(filename, system=True)
        path = self.directory / filename
        if path.is_symlink() and not is_inside(path, self.directory):
            raise ValidationError("filename is a symlink that points outside the memory directory", field="filename")
        return path
