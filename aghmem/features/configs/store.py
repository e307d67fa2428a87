"""Where configurations live: HOME/<compat.cfg.root>/<project>/<id>.yaml.
Reads come straight from the files (they are the truth: nothing derived to
rebuild); writes go through the controller (controller/config_files.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import Config
from ...controller.config_files import MAX_CONFIG_BYTES, ConfigFiles, ConfigWrite
from ...errors import ValidationError
from ...model import Decision
from ...storage.reading import RefusedFile, read_memory_bytes
from .fileformat import BrokenConfig, etag, parse, render
from .validation import normalize

PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_project(value: str) -> str:
    if not PROJECT_RE.fullmatch(value) or ".." in value:
        raise ValidationError(f"invalid project {value!r}: use 1-64 letters, digits, '.', '_' or '-'", field="project")
    return value


def check_id(value: str) -> str:
    if not ID_RE.fullmatch(value) or ".." in value:
        raise ValidationError(f"invalid memory_id {value!r}: use 1-128 letters, digits, '.', '_' or '-'", field="memory_id")
    return value


@dataclass
class Stored:
    config: dict[str, Any]
    etag: str


class ConfigStore:
    def __init__(self, config: Config, files: ConfigFiles) -> None:
        self.config = config
        self.files = files

    @property
    def root(self) -> Path:
        return self.config.home_path / self.config.compat.cfg.root

    def target(self, project: str, config_id: str) -> str:
        return f"{self.config.compat.cfg.root.strip('/')}/{check_project(project)}/{check_id(config_id)}.yaml"

    def ids(self, project: str) -> list[str]:
        """The ids with a file in `project`, sorted by bytes."""
        directory = self.root / check_project(project)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        ids = [n[: -len(".yaml")] for n in names if n.endswith(".yaml")]
        return sorted((i for i in ids if ID_RE.fullmatch(i) and ".." not in i), key=str.encode)

    def projects(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if PROJECT_RE.fullmatch(n) and (self.root / n).is_dir())
        except FileNotFoundError:
            return []

    def all_targets(self) -> list[str]:
        return [self.target(p, i) for p in self.projects() for i in self.ids(p)]

    def read(self, project: str, config_id: str) -> Stored | None:
        """The configuration as its file is now; None if absent; BrokenConfig
        if the file is not one."""
        path = self.root / check_project(project) / f"{check_id(config_id)}.yaml"
        try:
            raw = read_memory_bytes(path, max_bytes=MAX_CONFIG_BYTES)[0]
        except FileNotFoundError:
            return None
        except RefusedFile as exc:
            raise BrokenConfig(f"memory config ID '{config_id}': the stored file cannot be read: {exc.refusal.reason}") from None
        return Stored(parse(raw, config_id), etag(raw))

    def load(self, ref: str) -> dict[str, Any] | None:
        """A binding's `project/id`, or None when absent or broken."""
        project, _, config_id = ref.partition("/")
        try:
            stored = self.read(project, config_id)
        except (BrokenConfig, ValidationError):
            return None
        return stored.config if stored is not None else None

    def broken(self) -> list[dict[str, str]]:
        """Every file that is not a configuration, and why."""
        found = []
        for project in self.projects():
            for config_id in self.ids(project):
                try:
                    self.read(project, config_id)
                except BrokenConfig as exc:
                    found.append({"path": self.target(project, config_id), "error": exc.message})
        return found

    def put(self, project: str, config_id: str, body: dict[str, Any], *, if_match: list[str] | None, origin: str) -> tuple[Decision, Stored]:
        config = normalize(body, check_id(config_id))
        raw = render(config)
        decision = self.files.submit(ConfigWrite(self.target(project, config_id), raw, origin, if_match))
        return decision, Stored(config, etag(raw))

    def delete(self, project: str, config_id: str, *, origin: str) -> Decision:
        return self.files.submit(ConfigWrite(self.target(project, config_id), None, origin))

    def observe(self, project: str, config_id: str) -> None:
        self.files.observe(self.target(project, config_id))
