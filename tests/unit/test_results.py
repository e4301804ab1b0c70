"""Outcome records: they round-trip, are written whole, and expire without a cron job."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uwsgi_tasks
from tests import strategies
from tests.strategies import same
from uwsgi_tasks import TaskStatus, _codec, _spooldir
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks._outcomes._memory import MemoryResultStore
from uwsgi_tasks._outcomes._model import ErrorInfo, Outcome

outcomes = st.builds(
    Outcome,
    task_id=strategies.task_ids,
    status=st.sampled_from(TaskStatus),
    attempts=st.integers(1, 100),
    started_at=st.floats(0, 4e9),
    finished_at=st.floats(0, 4e9),
    value=strategies.values(),
    has_value=st.booleans(),
    error=st.none() | st.builds(ErrorInfo, strategies.texts, strategies.texts, strategies.texts),
    next_spool_file=st.none() | strategies.texts,
    at=st.none() | st.integers(0, 2**40),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outcome=outcomes)
def test_outcome_records_round_trip(secret: str, outcome: Outcome) -> None:
    """decode(encode(outcome)) == outcome, values included (a record without a value keeps none)."""
    back = _codec.decode_outcome(_codec.encode_outcome(outcome), outcome.task_id)
    if outcome.has_value:
        assert same(back.value, outcome.value)
    else:
        assert back.value is None
    assert attrs.evolve(back, value=None) == attrs.evolve(outcome, value=None)  # every other field


def test_a_value_that_cannot_be_stored_records_a_failure() -> None:
    """Without a secret, a result that needs pickling turns the record into a FAILED one, not a crash."""
    outcome = Outcome("a" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0, strategies.Opaque(1), True)
    back = _codec.decode_outcome(_codec.encode_outcome(outcome), outcome.task_id)
    assert back.status is TaskStatus.FAILED
    assert back.error is not None and "can't be stored" in back.error.message


def test_file_records_are_written_whole_under_concurrent_writers(tmp_path: Path) -> None:
    """Readers racing many writers of the same record only ever see a whole record."""
    store = FileResultStore(str(tmp_path))
    big = "x" * 200_000
    stop = threading.Event()
    torn: list[Any] = []

    def write(n: int) -> None:
        while not stop.is_set():
            store.put(Outcome("b" * 32, TaskStatus.SUCCEEDED, n, 1.0, 2.0, big + str(n), True))

    def read() -> None:
        while not stop.is_set():
            found = store.get("b" * 32)
            if found is not None and found.value != big + str(found.attempts):
                torn.append(found)

    threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    assert torn == []


def test_old_records_are_pruned_by_the_writers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records older than result_ttl are removed when a new record is written, with no cron job."""
    uwsgi_tasks.configure(result_ttl=timedelta(hours=1))
    try:
        store = FileResultStore(str(tmp_path))
        store.put(Outcome("c" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0))
        old = time.time() - 7200
        os.utime(store.path_of("c" * 32), (old, old))
        monkeypatch.setattr(_spooldir, "_pruned", {})  # as if the last pruning were a minute ago
        store.put(Outcome("d" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0))
        assert store.get("c" * 32) is None
        assert store.get("d" * 32) is not None
    finally:
        uwsgi_tasks.configure(result_ttl=7 * 86400)


def test_result_ttl_must_be_positive() -> None:
    """A zero or negative TTL is refused."""
    with pytest.raises(ValueError, match="positive"):
        uwsgi_tasks.configure(result_ttl=0)


def test_the_in_process_store_keeps_the_newest() -> None:
    """In-place outcomes are kept in memory, the newest `size` of them."""
    store = MemoryResultStore(size=2)
    for n in range(3):
        store.put(Outcome(f"{n}" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0))
    assert store.get("0" * 32) is None
    assert store.get("2" * 32) is not None
    assert store.version() == 3


def test_ids_that_are_not_task_ids_are_refused(tmp_path: Path) -> None:
    """A record path is never built from something like '../x'."""
    with pytest.raises(ValueError, match="not a task id"):
        FileResultStore(str(tmp_path)).get("../../etc/passwd")


class _EndsWhileLooking(MemoryResultStore):
    """A store whose task ends (record written, file deleted) right after the first read of it."""

    def __init__(self, spool_file: Path, outcome: Outcome) -> None:
        super().__init__()
        self.spool_file, self.outcome = spool_file, outcome

    def get(self, task_id: str) -> Outcome | None:
        found = super().get(task_id)
        if self.spool_file.exists():  # the first read: the task ends now, as a spooler ends it
            self.put(self.outcome)
            self.spool_file.unlink()
        return found


@pytest.mark.parametrize("silent", [False, True])
@pytest.mark.parametrize("status", [TaskStatus.SUCCEEDED, TaskStatus.FAILED])
def test_a_task_ending_while_observed_is_seen_ended_never_unknown(
    tmp_path: Path, status: TaskStatus, silent: bool
) -> None:
    """Between reading a task's record (none yet) and finding its spool file gone, the task ended:
    the observation reads the record again and reports the end (not UNKNOWN, and for a
    store_result=False task not a SUCCEEDED guessed from the missing file when it FAILED)."""
    from uwsgi_tasks._outcomes._observe import observe

    spool_file = tmp_path / "uwsgi_spoolfile_on_x"
    spool_file.write_bytes(b"")
    outcome = Outcome("a" * 32, status, 1, 1.0, 2.0)
    seen = observe("a" * 32, _EndsWhileLooking(spool_file, outcome), str(spool_file), 1, silent=silent)
    assert seen.status is status and seen.record == outcome


class _Shared(MemoryResultStore):
    shared = True


@pytest.mark.parametrize(
    ("record", "seen"),
    [
        (Outcome("a" * 32, TaskStatus.SCHEDULED, 1, 1.0, 1.0, at=2**40), TaskStatus.SCHEDULED),
        (Outcome("a" * 32, TaskStatus.SCHEDULED, 1, 1.0, 1.0, at=1), TaskStatus.QUEUED),
        (Outcome("a" * 32, TaskStatus.QUEUED, 1, 1.0, 1.0), TaskStatus.QUEUED),
        (Outcome("a" * 32, TaskStatus.RUNNING, 1, 1.0, 1.0), TaskStatus.RUNNING),
        (
            Outcome("a" * 32, TaskStatus.RETRYING, 1, 1.0, 2.0, next_spool_file="/on/b/file"),
            TaskStatus.RETRYING,
        ),
    ],
)
def test_a_shared_store_record_is_the_state_of_a_task_out_of_sight(record: Outcome, seen: TaskStatus) -> None:
    """A task on another host: its file is out of sight, so the shared store's record is its state
    (a scheduled one is QUEUED once due; a retry is the next attempt). A local store reads the same
    missing file as UNKNOWN: there, a record can't stand for a file that should be here."""
    from uwsgi_tasks._outcomes._observe import observe

    shared, local = _Shared(), MemoryResultStore()
    shared.put(record)
    local.put(record)
    found = observe("a" * 32, shared, None, 1)
    assert found.status is seen
    assert found.attempt == (2 if seen is TaskStatus.RETRYING else 1)
    if seen is TaskStatus.RETRYING:
        assert observe("a" * 32, local, None, 1).status is TaskStatus.UNKNOWN


def test_a_silent_task_on_another_host_is_not_guessed_succeeded(tmp_path: Path) -> None:
    """store_result=False: a missing file reads as SUCCEEDED only where its directory is visible; a
    spool file of another host (its directory not here) says nothing, so UNKNOWN."""
    from uwsgi_tasks._outcomes._observe import observe

    here = tmp_path / "uwsgi_spoolfile_on_gone"
    assert observe("a" * 32, MemoryResultStore(), str(here), 1, silent=True).status is TaskStatus.SUCCEEDED
    elsewhere = "/on/another/host/uwsgi_spoolfile_on_x"
    assert observe("a" * 32, _Shared(), elsewhere, 1, silent=True).status is TaskStatus.UNKNOWN


@pytest.mark.parametrize("store_result", [True, False])
def test_a_sent_handle_is_the_handle_its_constructor_makes(tmp_path: Path, store_result: bool) -> None:
    """Handles made on the send path (slots set directly, for speed) equal those __init__ makes."""
    from uwsgi_tasks import TaskExecutor, TaskHandle
    from uwsgi_tasks._spec import TaskSpec

    out = _codec.outgoing(TaskSpec("m:f", "a" * 32, 1.0, attempt=3, store_result=store_result))
    store = FileResultStore(str(tmp_path))
    sent = TaskHandle._sent(out, TaskExecutor.MULE, store, "/spool/file")
    made: TaskHandle[Any] = TaskHandle(
        out.task_id,
        function=out.function,
        executor=TaskExecutor.MULE,
        spool_file="/spool/file",
        attempt=3,
        pickled=out.pickled,
        store=store,
        silent=not store_result,
    )
    assert {name: getattr(sent, name) for name in TaskHandle.__slots__} == {
        name: getattr(made, name) for name in TaskHandle.__slots__
    }
