"""Background jobs on APScheduler: reconcile scans, decision pruning.

Each job runs at most once at a time (a run still going when the next is
due makes the next one wait, coalesced), and `stop()` waits for a running
job before the daemon exits. Issue 4 adds dreaming and the daily sweep here.
"""

from __future__ import annotations

import logging
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .config import Config, parse_duration

log = logging.getLogger("aghmem.scheduler")


class Scheduler:
    def __init__(self, config: Config, *, reconcile: Callable[[], object], prune: Callable[[], object]) -> None:
        self._scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._scheduler.add_job(
            _logged("reconcile", reconcile),
            IntervalTrigger(seconds=parse_duration(config.index.reconcile_interval)),
            id="reconcile",
        )
        self._scheduler.add_job(
            _logged("prune decisions", prune),
            CronTrigger(hour=config.daily.sweep_hour, minute=15, timezone="UTC"),
            id="prune_decisions",
        )

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def jobs(self) -> list[dict[str, object]]:
        return [
            {"id": job.id, "next_run_at": job.next_run_time.isoformat() if job.next_run_time else None}
            for job in self._scheduler.get_jobs()
        ]


def _logged(name: str, job: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("%s failed", name)

    run.__name__ = name.replace(" ", "_")
    return run
