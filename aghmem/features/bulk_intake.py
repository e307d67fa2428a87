"""Taking many files in at once: a scan's baselines (a cold start's bulk).

What a file on disk costs is read, parse, safety scan and, for the index,
analysis: pure Python, one core per process. `taken_in` runs that in helper
processes (`aghmem.processes`) when there are many files, in order, so the
caller (the reconciler) only writes the catalog and hands the analysed
documents to the index. Each file goes through the same gate as one seen
alone (`controller.intake.take_in`); a refused one comes back as such, for
the caller to observe one by one (so its refusal is on the record).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from .. import processes
from ..config import FileConfig
from ..controller.intake import take_in
from ..controller.safety import Scanner
from ..model import Entry, Selector, default_type, memory_id
from ..storage.filenames import listed_name
from ..storage.index_fields import Fields, fields, index_text

# Below this many files, starting helpers (~0.1-0.2 s) costs more than it saves.
POOL_MIN_FILES = 1000
TASK_FILES = 200  # per task: big enough that the pickling stays small beside the work


@dataclass(frozen=True)
class Group:
    """Files of one scope directory to take in."""

    selector: Selector
    directory: Path
    names: list[str]
    scanner: Scanner


@dataclass(frozen=True)
class Task:
    groups: list[Group]
    limits: FileConfig
    analyse: bool  # also the index fields of each entry


class Taken(NamedTuple):
    """One file: its entry (None: gone since listed, or refused), whether
    it was refused, and its index fields if asked for."""

    selector: Selector
    directory: Path
    name: str
    entry: Entry | None
    refused: bool
    fields: Fields | None


def take_in_task(task: Task) -> list[Taken]:
    """A task's files through the intake gate (in a helper, or here)."""
    out: list[Taken] = []
    for group in task.groups:
        kind = default_type(group.selector)
        for name in group.names:
            seen = take_in(group.directory / listed_name(name), name, kind, limits=task.limits, scanner=group.scanner)
            if seen is None or seen.refusal is not None:
                out.append(Taken(group.selector, group.directory, name, None, seen is not None, None))
                continue
            entry = seen.entry(group.selector, name)
            terms = fields(group.selector.key, index_text(entry.name, entry.description, entry.raw)) if task.analyse else None
            out.append(Taken(group.selector, group.directory, name, entry, False, terms))
    return out


def tasks(groups: Iterable[Group], limits: FileConfig, *, analyse: bool) -> Iterator[Task]:
    """The groups' files in tasks of about TASK_FILES files, in the order a
    rebuild from the catalog indexes them (by memory id, across scopes): the
    index's order breaks exact BM25 ties, and a cold start must rank as a
    rebuild does. Consecutive files of one scope share a group; scopes
    without files come first, as empty groups."""
    groups = list(groups)
    order = sorted((memory_id(group.selector, name), number, name) for number, group in enumerate(groups) for name in group.names)
    packed = [Group(g.selector, g.directory, [], g.scanner) for g in groups if not g.names]
    size = 0
    for _, number, name in order:
        group = groups[number]
        if not packed or packed[-1].names == [] or packed[-1].selector != group.selector:
            packed.append(Group(group.selector, group.directory, [], group.scanner))
        packed[-1].names.append(name)
        size += 1
        if size >= TASK_FILES:
            yield Task(packed, limits, analyse)
            packed, size = [], 0
    if packed:
        yield Task(packed, limits, analyse)


def taken_in(groups: list[Group], limits: FileConfig, *, analyse: bool) -> Iterator[tuple[Task, list[Taken]]]:
    """Each task with its files taken in, in order: in helper processes
    (one per core) when there are many files, else here."""
    total = sum(len(group.names) for group in groups)
    workers = processes.cores() if total >= POOL_MIN_FILES and processes.cores() > 1 else 0
    sent: collections.deque[Task] = collections.deque()

    def remembered() -> Iterator[Task]:
        for task in tasks(groups, limits, analyse=analyse):
            sent.append(task)
            yield task

    for answer in processes.ordered(take_in_task, remembered(), workers):
        yield sent.popleft(), answer
