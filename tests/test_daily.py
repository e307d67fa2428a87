"""Daily logs: a line per applied decision, rotation, the archive sweep."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from aghmem import MemoryService, load_config
from aghmem.features.sessions import Event
from conftest import Daemon
from library import write


@pytest.fixture
def clock() -> list[dt.datetime]:
    return [dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)]


@pytest.fixture
def service(tmp_path: Path, clock: list[dt.datetime]) -> Iterator[MemoryService]:
    config = load_config(home=tmp_path / "home", env={})
    config.controller.policy.max_writes_per_min = 0
    config.daily.max_lines = 6  # a header, a blank line and four operations
    svc = MemoryService(config, clock=lambda: clock[0])
    svc.start(watch=False)
    yield svc
    svc.close()


def daily_dir(service: MemoryService) -> Path:
    return service.config.home_path / "memory" / "_system" / "daily"


def test_one_line_per_applied_decision_and_rotation(service: MemoryService, clock: list[dt.datetime]) -> None:
    for n in range(5):
        write(service, {"type": "user", "name": f"Note {n}", "content": f"Fact number {n}."})
    write(service, {"type": "user", "name": "Note 0", "content": "Fact number 0."})  # a noop: no line
    decision = write(service, {"type": "user", "name": "Dry", "content": "x", "dry_run": True}).decision
    assert decision.status == "dry_run"
    (service.config.home_path / "memory" / "user_note_1.md").unlink()  # by hand
    service.rescan()
    assert sorted(p.name for p in daily_dir(service).iterdir()) == ["2026-03-01.1.md", "2026-03-01.2.md"]
    first = (daily_dir(service) / "2026-03-01.1.md").read_text().splitlines()
    assert first[0] == "# Daily log 2026-03-01 (global)" and len(first) == 6
    assert first[2].startswith("- 12:00:00Z add user_note_0.md (origin http, decision dec_")
    second = (daily_dir(service) / "2026-03-01.2.md").read_text()
    assert "add user_note_4.md" in second and "delete user_note_1.md (origin file" in second
    logs = service.daily_logs(None)
    assert [(log["seq"], log["operation_count"]) for log in logs] == [(2, 2), (1, 4)]

    clock[0] += dt.timedelta(days=1)
    write(service, {"type": "user", "name": "Tomorrow", "content": "A new day."})
    assert [log["date"] for log in service.daily_logs(None)] == ["2026-03-02", "2026-03-01", "2026-03-01"]
    assert [log["seq"] for log in service.daily_logs(None, date="2026-03-01")] == [2, 1]
    assert len(service.daily_logs(None, limit=1)) == 1


def test_the_sweep_archives_then_deletes(service: MemoryService, clock: list[dt.datetime]) -> None:
    service.config.daily.cold_archive_days = 30
    service.config.daily.hard_delete_days = 60
    write(service, {"type": "user", "name": "March", "content": "Written in March."})
    clock[0] += dt.timedelta(days=10)
    write(service, {"type": "user", "name": "Later", "content": "Written ten days later."})
    archive = service.config.home_path / "memory" / "_system" / "archive"

    assert service.sweep_daily() == {"archived": 0, "deleted": 0}
    clock[0] += dt.timedelta(days=25)  # 35 days after the first log, 25 after the second
    assert service.sweep_daily() == {"archived": 1, "deleted": 0}
    assert [p.name for p in archive.iterdir()] == ["2026-03-01.1.md"]
    assert [log["date"] for log in service.daily_logs(None)] == ["2026-03-11"]
    # Appends after a sweep go to the right file.
    write(service, {"type": "user", "name": "After sweep", "content": "Written after the sweep."})
    clock[0] += dt.timedelta(days=31)
    assert service.sweep_daily() == {"archived": 2, "deleted": 1}  # the 1 March log is past 60 days
    assert sorted(p.name for p in archive.iterdir()) == ["2026-03-11.1.md", "2026-04-05.1.md"]
    # The archive's size cap drops the oldest first.
    service.config.daily.max_archive_bytes = (archive / "2026-04-05.1.md").stat().st_size
    assert service.sweep_daily()["deleted"] == 1
    assert [p.name for p in archive.iterdir()] == ["2026-04-05.1.md"]
    service.config.daily.hard_delete_days = 0  # never
    clock[0] += dt.timedelta(days=3650)
    assert service.sweep_daily()["deleted"] == 0


def test_session_retention_follows_hard_delete_days(service: MemoryService, clock: list[dt.datetime]) -> None:
    stop = [Event(1, "session.stopped", None, {})]
    service.append_events("_unbound", "old", stop)
    clock[0] += dt.timedelta(days=20)
    service.append_events("_unbound", "recent", stop)
    assert service.sweep_sessions() == 0  # hard_delete_days = 0: kept forever
    service.config.session.hard_delete_days = 10
    assert service.sweep_sessions() == 1
    assert [p.name for p in (service.config.home_path / "sessions" / "_unbound").iterdir()] == ["recent"]


def test_a_daily_folder_deleted_by_hand_is_made_again(daemon: Daemon) -> None:
    daemon.write(type="user", name="First", content="Written before the folder went.")
    daily = daemon.home / "memory" / "_system" / "daily"
    assert list(daily.iterdir())
    shutil.rmtree(daily)
    for n in range(2):
        response = daemon.post("/api/memory", {"scope": "global", "type": "user", "name": f"n{n}", "description": "d", "content": f"c{n}"})
        assert response.status_code == 200, response.text
    assert "add user_n1.md" in "".join(p.read_text() for p in daily.iterdir())
    assert "Traceback" not in daemon.log()
