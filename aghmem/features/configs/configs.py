"""The configurations feature wired to the parts it acts through: the
controller (writes, the scanner of a bound scope), the sessions (the
privacy policy on appends) and the watcher (hand edits)."""

from __future__ import annotations

from pathlib import Path

from ...config import Config
from ...controller.controller import Controller
from ..extractor.worker import Extractor
from ..sessions import Sessions
from ..tiebreak import TieBreaker
from ..watcher import Watcher
from .bindings import Bindings
from .breakers import ConfigBreakers
from .enforce import SessionPolicy
from .store import ID_RE, PROJECT_RE, ConfigStore
from .window import TranscriptWindow


class Configs:
    def __init__(self, config: Config, controller: Controller) -> None:
        self.config = config
        self.files = controller.config_files
        self.store = ConfigStore(config, self.files)
        self.bindings = Bindings(config, self.store)
        self.breakers = ConfigBreakers(self.bindings)  # around provider calls for bound scopes
        controller.scope_scanner = self.bindings.scanner
        self.files.listeners.append(self.bindings.changed)

    def attach(self, sessions: Sessions, watcher: Watcher, extractor: Extractor, tie_breaker: TieBreaker) -> None:
        sessions.policy = SessionPolicy(self.bindings)
        extractor.window = TranscriptWindow(self.bindings)
        extractor.guard = self.breakers.for_session
        tie_breaker.guard = self.breakers.for_scope
        watcher.also_watch(self.store.root, ".yaml", self.take_path)

    def take_in_all(self) -> None:
        """Every file as it is now (start-up, the periodic reconcile): edits
        made while nobody looked become observed decisions."""
        targets = self.store.all_targets()
        self.files.baseline(targets)
        for gone in set(self.files.known) - set(targets):
            self.files.observe(gone)
        self.bindings.changed()

    def take_path(self, path: Path) -> None:
        """One file the watcher saw change."""
        project, name = path.parent.name, path.name.removesuffix(".yaml")
        if path.parent.parent != self.store.root or not PROJECT_RE.fullmatch(project) or not ID_RE.fullmatch(name):
            return
        self.files.observe(self.store.target(project, name))
