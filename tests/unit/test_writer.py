"""`_outcomes._writer`: the one place that decides what of an outcome is recorded."""

from __future__ import annotations

import pytest

from uwsgi_tasks import TaskStatus
from uwsgi_tasks._outcomes import _writer
from uwsgi_tasks._outcomes._memory import MemoryResultStore
from uwsgi_tasks._outcomes._model import ErrorInfo, Outcome

ENDS_A_SILENT_TASK_RECORDS = {
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.RETRYING,
    TaskStatus.UNKNOWN,
}


@pytest.mark.parametrize("status", list(TaskStatus))
def test_store_result_false_records_only_what_is_not_a_success(status: TaskStatus) -> None:
    """A silent task records no success, and nothing while it waits or runs (that record would
    outlive it); what it records carries no value. Every other task records everything."""
    outcome = Outcome("a" * 32, status, 1, 1.0, 2.0, value=42, has_value=True, error=ErrorInfo("m.E", "e"))
    assert _writer.kept(outcome, True) is outcome
    silent = _writer.kept(outcome, False)
    if status in ENDS_A_SILENT_TASK_RECORDS:
        assert silent is not None and (silent.status, silent.has_value, silent.value) == (status, False, None)
    else:
        assert silent is None


def test_write_says_whether_it_wrote_and_record_never_raises() -> None:
    store = MemoryResultStore()
    running = Outcome("b" * 32, TaskStatus.RUNNING, 1, 1.0, 1.0)
    assert not _writer.write(store, running, store_result=False) and store.get(running.task_id) is None
    assert _writer.write(store, running) and store.get(running.task_id) == running

    class Broken(MemoryResultStore):
        def put(self, outcome: Outcome) -> None:
            raise OSError("disk full")

    assert not _writer.record(Broken(), running)  # logged; the caller keeps the task
    assert _writer.record(None, running)  # no store: nothing to record, not a failure
