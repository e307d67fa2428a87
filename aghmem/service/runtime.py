"""The daemon's parts, wired together, started, scheduled and stopped.

`MemoryService` is the API the faces call; this is what it stands on: the
catalog, the controller and its listeners, the index, the watcher and the
reconcile scans, sessions, the extractor, dreaming, and the scheduler's
jobs. Health reads it; nothing in it knows the service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from pathlib import Path

from .. import faults
from ..config import Config, load_config, parse_duration
from ..controller.controller import Clock, Controller
from ..controller.decisions import stamp
from ..controller.recovery import recover as recover_pending
from ..features.configs.configs import Configs
from ..features.daily import DailyLog
from ..features.dreaming.runs import Dreaming
from ..features.dreaming.store import DreamStore
from ..features.extractor.worker import Extractor
from ..features.hooks import Hooks
from ..features.indexing import Indexing, JobProgress
from ..features.kv import KeyValueStore
from ..features.providers import Providers
from ..features.recall import Recall
from ..features.sessions import Sessions
from ..features.signals import Signals
from ..features.sync import Reconciler, ScanReport
from ..features.tiebreak import TieBreaker
from ..features.watcher import Watcher
from ..model import Selector, iso_utc
from ..reloading import LOCKED_PATHS, get_path, set_path
from ..storage.catalog import Catalog
from ..storage.layout import Layout, WorkspaceRegistry
from .scheduler import Scheduler

log = logging.getLogger("aghmem")


class Runtime:
    def __init__(self, config: Config, *, clock: Clock | None = None, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        # The config file as read at start, before command-line flags: what
        # a reload compares the file with.
        self._as_loaded = load_config(config_path, home=config.home) if config_path else config
        home = config.home_path
        self.registry = WorkspaceRegistry(
            home, toml_path=config.workspace.toml_path, auto_create=config.workspace.auto_create
        )
        self.layout = Layout(home, self.registry)
        self.catalog = Catalog(home / "state" / "aghmem.db")
        self.controller = Controller(config=config, layout=self.layout, catalog=self.catalog, clock=clock)
        self.indexing = Indexing(
            self.catalog, home / "state" / "index", commit_delay=parse_duration(config.index.commit_interval)
        )
        self.reconciler = Reconciler(self.layout, self.catalog, self.controller, self.indexing)
        self.controller.listeners.append(self.indexing.on_change)
        signals = config.recall.signals
        self.signals = Signals(
            self.catalog, capacity=signals.queue_capacity, retries=signals.worker_retry_max, enabled=signals.metrics_enabled
        )
        self.recall = Recall(config, self.catalog, self.indexing, self.signals)
        self.watcher = Watcher(
            self.layout,
            self.controller,
            debounce=parse_duration(config.index.debounce),
            rescan=self.rescan,
            scan_scope=lambda selector: self.scan_scope(selector),
        )
        self.last_scan: ScanReport | None = None
        self.taking_in: JobProgress | None = None  # the start-up scan's first scans, for health
        self.last_scan_at: str | None = None
        self.providers = Providers(config, home / "state" / "providers.json", self.controller.clock)
        tie_breaker = TieBreaker(config, self.providers)
        self.controller.tie_breaker = tie_breaker
        self.sessions = Sessions(home / config.session.ledger_root, self.catalog, self.registry, self.controller.clock)
        self.extractor = Extractor(config, self.controller, self.providers, home)
        self.sessions.listeners.append(self.extractor.on_events)
        self.sessions.admit = self.extractor.admit
        self.configs = Configs(config, self.controller)  # memory configurations (COMPAT §2)
        self.configs.attach(self.sessions, self.watcher, self.extractor, tie_breaker)
        self.kv = KeyValueStore(config, self.controller)  # key-value memory (COMPAT §3)
        self.hooks = Hooks(config, self.recall, self.catalog, self.sessions, self.controller)
        self.daily = DailyLog(self.layout, self.config)
        self.controller.decision_listeners.append(self.daily.record)
        self.dreaming = Dreaming(
            config=config, layout=self.layout, controller=self.controller, signals=self.signals, store=DreamStore(self.catalog)
        )
        self.controller.listeners.append(self.dreaming.syntheses.on_change)
        self.scheduler = Scheduler()
        self.scheduler.every("reconcile", config.index.reconcile_interval, self.rescan)
        self.scheduler.every("dream_check", config.dream.check_interval, self.dreaming.check)
        self.scheduler.daily("daily_sweep", config.daily.sweep_hour, 0, self.sweep_daily)
        self.scheduler.daily("prune_decisions", config.daily.sweep_hour, 15, self.prune_decisions)
        self.scheduler.daily("session_retention", config.daily.sweep_hour, 30, self.sweep_sessions)

    @property
    def clock(self) -> Clock:
        return self.controller.clock

    # --- lifecycle ---------------------------------------------------------

    def start(self, *, watch: bool = True, background: bool = False) -> None:
        """Settle a crash's leftovers, bring the catalog and the index up to
        the disk, then keep them there (watcher, periodic reconcile).
        `background`: return once the crash is settled; the watcher's start,
        the scan and the index catch-up go on in a thread (the daemon answers
        meanwhile: searches with what is in, writes wait), `ready` tells when."""
        self.controller.ready.clear()
        self.layout.global_dir.mkdir(parents=True, exist_ok=True)
        recovery = recover_pending(self.controller)
        if recovery.applied or recovery.abandoned:
            log.info("recovered pending decisions: %d applied, %d abandoned", recovery.applied, recovery.abandoned)
        self.dreaming.recover()
        if not background:
            self._take_in(watch)
            return
        self._warming = threading.Thread(target=self._take_in_or_die, args=(watch,), name="aghmem-start", daemon=True)
        self._warming.start()

    @property
    def ready(self) -> threading.Event:
        return self.controller.ready

    def _take_in(self, watch: bool) -> None:
        if watch:
            # Before the scan: nothing edited meanwhile is missed. Here, not
            # before serving: over many folders it walks them all (1.3 s at
            # 50k files in 2,000 folders).
            self.watcher.start()
        faults.point("start.taking_in")
        self.indexing.start_empty()
        self.rescan()
        self.indexing.catch_up()
        self.controller.ready.set()
        self.taking_in = None
        # After the first scan, which takes every temp file for a crash's: the
        # extractor's inbox leftovers are writes of their own.
        self.extractor.start()
        if watch:
            self.scheduler.start()

    def _take_in_or_die(self, watch: bool) -> None:
        try:
            self._take_in(watch)
        except Exception:  # noqa: BLE001 - as a failed start-up: say why, and exit
            if getattr(self, "_closing", False):
                return  # stopped while starting: the parts were closed under it
            log.exception("start-up failed while taking in the files")
            os._exit(3)

    def rescan(self) -> ScanReport:
        """Compare every scope with the disk; changes become decisions."""
        report = self.reconciler.scan_all(progress=self._scan_progress)
        self._after_scan(report, all_scopes=self.last_scan is None)
        self.configs.take_in_all()
        return report

    def scan_scope(self, selector: Selector) -> None:
        report = self.reconciler.scan_scope(selector, self.layout.scope_dir(selector))
        self._after_scan(report, all_scopes=False)

    def reload(self) -> list[str]:
        """Take the config file again; returns the locked paths whose value
        in the file differs from the running one (they need a restart)."""
        if self.config_path is None:
            return []
        fresh = load_config(self.config_path, home=self.config.home)
        # Against the file as it was at start (flags like --port never were in it).
        held = [path for path in LOCKED_PATHS if get_path(fresh, path) != get_path(self._as_loaded, path)]
        self._as_loaded = load_config(self.config_path, home=self.config.home)
        for path in LOCKED_PATHS:
            set_path(fresh, path, get_path(self.config, path))
        for section in dataclasses.fields(fresh):
            setattr(self.config, section.name, getattr(fresh, section.name))
        self.controller.reconfigure()
        return held

    def take_in_workspace(self, workspace_id: str, root: Path) -> None:
        """A workspace just registered: watch its directories, scan its scopes."""
        if self.watcher.running:
            for directory in (root / ".agh" / "memory", root / ".agh" / "agents"):
                self.watcher.watch(directory)
        for selector, _ in self.layout.scope_dirs():
            if selector.workspace_id == workspace_id:
                self.scan_scope(selector)

    def forget_workspace(self, workspace_id: str) -> int:
        """Drop a workspace's scopes (its own and its agents') from the
        catalog; the index follows through the dirty rows. Returns entries dropped."""
        keys = [k for k in self.catalog.scope_keys() if k == f"ws:{workspace_id}" or k.endswith(f"@{workspace_id}")]
        ids = self.catalog.ids_in_scopes(keys)
        with self.catalog.write() as db:
            dropped = sum(self.catalog.delete_scope(db, key) for key in keys)
        self.indexing.restage(ids)  # gone from the catalog: staged as deletes
        return dropped

    def _after_scan(self, report: ScanReport, *, all_scopes: bool) -> None:
        scopes = [s for s, _ in self.layout.scope_dirs()] if all_scopes else report.changed_scopes
        for selector in scopes:
            self.controller.refresh_memory_index(selector)
        # Baseline scans write the catalog in bulk, without listeners (their
        # documents are staged already, unless a rebuild is due).
        if report.changed_scopes and not self.indexing.index.needs_rebuild:
            self.indexing.replay_dirty()
        self.last_scan, self.last_scan_at = report, self.now()

    def _scan_progress(self, done: int, total: int) -> None:
        """Files taken in by first scans so far; until ready, health shows it."""
        if not self.ready.is_set():
            self.taking_in = JobProgress("take_in", done, total)
        if total >= 1000:
            log.info("scan: %d/%d files", done, total)

    def prune_decisions(self) -> int:
        """Drop applied decisions older than decisions.prune_after_applied_days
        (0 keeps them all)."""
        days = self.config.decisions.prune_after_applied_days
        if days <= 0:
            return 0
        cutoff = self.clock() - dt.timedelta(days=days)
        pruned = self.catalog.prune_decisions(stamp(cutoff, ms=True), keep_summary=self.config.decisions.keep_audit_summary)
        if pruned:
            log.info("pruned %d decision(s) applied before %s", pruned, stamp(cutoff, ms=False))
        return pruned

    def sweep_daily(self) -> dict[str, int]:
        """Archive and delete old daily logs (daily.cold_archive_days, hard_delete_days),
        and the key-value blobs no card needs (compat.kv.blob_grace_days)."""
        report = self.daily.sweep(self.clock().date())
        if report.archived or report.deleted:
            log.info("daily sweep: %d log(s) archived, %d deleted", report.archived, report.deleted)
        blobs = self.kv.sweep_blobs(self.catalog, self.clock())
        if blobs:
            log.info("daily sweep: %d key-value blob(s) no card names deleted", blobs)
        return report.to_dict()

    def sweep_sessions(self) -> int:
        """Delete session ledgers idle for session.hard_delete_days (0 keeps them)."""
        days = self.config.session.hard_delete_days
        if days <= 0:
            return 0
        pruned = self.sessions.prune(days * 24)["pruned_sessions"]
        if pruned:
            log.info("session retention: %d ledger(s) idle for %d days deleted", pruned, days)
        return pruned

    def close(self) -> None:
        self._closing = True
        self.scheduler.stop()
        self.extractor.close()
        self.watcher.stop()
        self.controller.commits.close()  # the writes queued are applied first
        self.recall.close()
        self.signals.close()
        self.indexing.close()
        self.providers.close()
        self.catalog.close()

    def now(self) -> str:
        return iso_utc(self.clock())

