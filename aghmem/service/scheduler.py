"""Background jobs on APScheduler (the service registers them: reconcile
scans, the dream check, the daily sweep, decision pruning).

Each job runs at most once at a time (a run still going when the next is
due makes the next one wait, coalesced), and `stop()` waits for a running
job before the daemon exits.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from ..config import parse_duration

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("aghmem.scheduler")

# (job id, trigger kind, trigger arguments, job)
JobSpec = tuple[str, str, dict[str, Any], Callable[[], None]]


class Scheduler:
    """Jobs are registered at once and handed to APScheduler at `start`,
    which the daemon calls once its files are taken in: importing
    APScheduler (~55 ms) is then off the path to the first answer."""

    def __init__(self) -> None:
        self._specs: list[JobSpec] = []
        self._scheduler: BackgroundScheduler | None = None

    def every(self, job_id: str, interval: str, job: Callable[[], object]) -> None:
        """Run `job` every `interval` (a duration such as "30m")."""
        self._specs.append((job_id, "interval", {"seconds": parse_duration(interval)}, _logged(job_id, job)))

    def daily(self, job_id: str, hour: int, minute: int, job: Callable[[], object]) -> None:
        """Run `job` once a day at hour:minute, local time."""
        self._specs.append((job_id, "cron", {"hour": hour, "minute": minute}, _logged(job_id, job)))

    def start(self) -> None:
        if self._scheduler is not None:
            return
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        triggers = {"interval": IntervalTrigger, "cron": CronTrigger}
        # No timezone: APScheduler takes the machine's, so daily jobs run at a
        # local hour (daily.sweep_hour = 3 means 03:00 where the user is).
        scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
        for job_id, kind, arguments, job in self._specs:
            scheduler.add_job(job, triggers[kind](**arguments), id=job_id)
        scheduler.start()
        self._scheduler = scheduler

    @property
    def running(self) -> bool:
        return self._scheduler is not None and bool(self._scheduler.running)

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def jobs(self) -> list[dict[str, object]]:
        if self._scheduler is None:
            return [{"id": job_id, "next_run_at": None} for job_id, *_ in self._specs]
        return [
            {"id": job.id, "next_run_at": job.next_run_time.isoformat() if job.next_run_time else None}
            for job in self._scheduler.get_jobs()
        ]


def _logged(name: str, job: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("job %s failed", name)

    run.__name__ = name
    return run
