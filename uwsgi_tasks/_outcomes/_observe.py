"""Reading a task's status from the world: its outcome record, its spool file, the file's lock.

The executing side writes the outcome record before uWSGI deletes the spool file, so a task is never
seen gone without an outcome, and statuses move forward only.
"""

from __future__ import annotations

import os
import time

import attrs

from .. import _locks
from ._model import Outcome, TaskStatus
from ._store import ResultStore


@attrs.frozen
class Observation:
    """What was seen: the status, the attempt it concerns, and the current spool file if any."""

    status: TaskStatus
    attempt: int
    spool_file: str | None
    record: Outcome | None


def _file_status(path: str) -> TaskStatus | None:
    """SCHEDULED, QUEUED or RUNNING from the spool file; None when the file is gone."""
    try:
        if _locks.holder(path) is not None:
            return TaskStatus.RUNNING
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    return TaskStatus.SCHEDULED if mtime > time.time() else TaskStatus.QUEUED


def in_sight(spool_file: str) -> bool:
    """Whether this process can see *spool_file*'s directory: if not, the file's absence says
    nothing (it is on another host)."""
    return os.path.isdir(os.path.dirname(spool_file))


def observe(
    task_id: str, store: ResultStore | None, spool_file: str | None, attempt: int, *, silent: bool = False
) -> Observation:
    """The status of a task, from its record, its spool file, and the file's lock.

    *silent* tasks (``store_result=False``) record nothing when they succeed: the handle that sent one
    reads "its file is gone and no failure was recorded" as SUCCEEDED (every other end is recorded).
    """
    record = store.get(task_id) if store is not None else None
    shared = store is not None and store.shared
    seen = _seen(record, spool_file, attempt, silent, shared)
    final = seen.record is not None and seen.record.status.done
    if seen.spool_file is None and spool_file is not None and store is not None and not final:
        # No file: the task may have ended between reading its record and looking for its file. Its
        # record was written before the file went, so reading it again now finds it.
        seen = _seen(store.get(task_id), spool_file, attempt, silent, shared)
    return seen


def _seen(
    record: Outcome | None, spool_file: str | None, attempt: int, silent: bool, shared: bool
) -> Observation:
    if record is not None and record.status.done:
        return Observation(record.status, record.attempts, None, record)
    if record is not None and record.status is TaskStatus.RETRYING:
        attempt, spool_file = record.attempts + 1, record.next_spool_file
    found = _file_status(spool_file) if spool_file is not None else None
    if found is None and shared and record is not None:
        # A shared store's record is the state of a task whose file is out of sight (on another host).
        status = record.status
        if status is TaskStatus.SCHEDULED and (record.at is None or record.at <= time.time()):
            status = TaskStatus.QUEUED
        return Observation(status, attempt, None, record)
    if found is None:
        if silent and spool_file is not None and in_sight(spool_file):
            return Observation(TaskStatus.SUCCEEDED, attempt, None, record)
        # No file: a mule reports RUNNING in its record; anything else is unknown, never "pending".
        running = record is not None and record.status is TaskStatus.RUNNING
        return Observation(TaskStatus.RUNNING if running else TaskStatus.UNKNOWN, attempt, None, record)
    if record is not None and record.status is TaskStatus.RETRYING and found is not TaskStatus.RUNNING:
        found = TaskStatus.RETRYING
    return Observation(found, attempt, spool_file, record)
