"""Background jobs on APScheduler (the service registers them: reconcile
scans, the dream check, the daily sweep, decision pruning).

Each job runs at most once at a time (a run still going when the next is
due makes the next one wait, coalesced), and `stop()` waits for a running
job before the daemon exits.
"""

from __future__ import annotations

import logging
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..config import parse_duration

log = logging.getLogger("aghmem.scheduler")


class Scheduler:
    def __init__(self) -> None:
        # No timezone: APScheduler takes the machine's, so daily jobs run at a
        # local hour (daily.sweep_hour = 3 means 03:00 where the user is).
        self._scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    def every(self, job_id: str, interval: str, job: Callable[[], object]) -> None:
        """Run `job` every `interval` (a duration such as "30m")."""
        self._scheduler.add_job(_logged(job_id, job), IntervalTrigger(seconds=parse_duration(interval)), id=job_id)

    def daily(self, job_id: str, hour: int, minute: int, job: Callable[[], object]) -> None:
        """Run `job` once a day at hour:minute, local time."""
        self._scheduler.add_job(_logged(job_id, job), CronTrigger(hour=hour, minute=minute), id=job_id)

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
            log.exception("job %s failed", name)

    run.__name__ = name
    return run
