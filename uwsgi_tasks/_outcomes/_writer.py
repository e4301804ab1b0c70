"""Writing outcomes: every record of what became of a task is written here, by every executor.

The rule lives in `kept`: a task sent with ``store_result=False`` leaves no record when it succeeds,
nor while it waits or runs (such a record would outlive it, since its success replaces nothing), and
the ends it does record (failed, cancelled, retrying) carry no value.
"""

from __future__ import annotations

import logging
from typing import Final

from ._model import Outcome, TaskStatus
from ._store import ResultStore, SharedStore

logger = logging.getLogger("uwsgi_tasks")

_SILENT = frozenset({TaskStatus.QUEUED, TaskStatus.SCHEDULED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED})

#: The note a shared store keeps of a success that left no record (see `note_silent_success`).
SILENT_SUCCESS: Final = "done"


def kept(outcome: Outcome, store_result: bool) -> Outcome | None:
    """What of *outcome* is recorded for a task with *store_result*; None: nothing."""
    if store_result:
        return outcome
    if outcome.status in _SILENT:
        return None
    return outcome.for_store(False)


def write(store: ResultStore, outcome: Outcome, *, store_result: bool = True) -> bool:
    """Record *outcome* in *store* as `kept` says; whether anything was written. Raises whatever the
    store raises."""
    record = kept(outcome, store_result)
    if record is not None:
        store.put(record)
    return record is not None


def record(store: ResultStore | None, outcome: Outcome, *, store_result: bool = True) -> bool:
    """`write`, with a failure logged instead of raised: False when *outcome* could not be recorded,
    and the caller keeps the task to run again, so that its outcome is not lost. No store (a mule
    task in an instance without a spooler directory) records nothing, and that is not a failure."""
    if store is None:
        return True
    try:
        write(store, outcome, store_result=store_result)
    except Exception:
        logger.exception("task %s: can't record its outcome", outcome.task_id)
        return False
    return True


def note_silent_success(store: SharedStore, task_id: str) -> None:
    """A success that leaves no record, noted where every host sees it, so that a copy sent to
    another host is known as a replay too."""
    try:
        store.put_note(task_id, SILENT_SUCCESS, b"1")
    except Exception as e:
        logger.error("task %s: can't note its success in the shared store: %r", task_id, e)
