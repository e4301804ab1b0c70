"""Retries on a real uWSGI: 0.7.3's options and examples, RetryPolicy, mule retries, get_current_task.

The server keeps uWSGI's default spooler-frequency (30 s): retry delays are honoured to the second
because spoolers wake themselves when a scheduled task is due.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ServerFactory, call, records, results_dir, wait_records
from uwsgi_tasks import TaskStatus
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks._outcomes._model import Outcome
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration

MODULE = "tests.integration.apps.retry_tasks"


@pytest.fixture(scope="module")
def server(shared_server: UwsgiServer) -> UwsgiServer:
    """The module's server, at uWSGI's default spooler-frequency (30 s)."""
    return shared_server


def outcome(server: UwsgiServer, task_id: str) -> Outcome:
    """The task's final outcome record, once it is written."""
    store = FileResultStore(str(server.spool_dirs[0]))

    def final() -> Outcome | None:
        found = store.get(task_id)
        return found if found is not None and found.status.done else None

    return wait_until(final, 10)


def gaps(found: list[dict[str, Any]]) -> list[float]:
    return [b["time"] - a["time"] for a, b in itertools.pairwise(found)]


def no_spool_files_left(server: UwsgiServer) -> None:
    """Every retry path removes the file of the attempt it replaces."""
    spool = server.spool_dirs[0]
    wait_until(
        lambda: not [p for p in spool.rglob("uwsgi_spoolfile_on_*") if ".uwsgi_tasks" not in p.parts], 10
    )


def test_retry_count_with_spool_retry_runs_exactly_that_many_times(server: UwsgiServer) -> None:
    """retry_count=3, retry_timeout=1, always SPOOL_RETRY: 3 runs about 1 s apart, then FAILED."""
    handle = call(server, "always_retry", "always", module=MODULE)
    found = wait_records(server, "always", count=3, timeout=15)
    assert [r["attempt"] for r in found] == [1, 2, 3]
    assert {r["task_id"] for r in found} == {handle["id"]}
    assert all(1 <= gap < 3 for gap in gaps(found)), gaps(found)
    final = outcome(server, handle["id"])
    assert final.status is TaskStatus.FAILED
    assert final.attempts == 3
    assert final.error is not None and "SPOOL_RETRY" in final.error.message
    no_spool_files_left(server)
    assert len(records(server, "always")) == 3


def test_the_readme_wrapper_example_retries_three_times(server: UwsgiServer) -> None:
    """The 0.7.3 README's task_wrapper returning SPOOL_RETRY with retry_count=3: three runs."""
    call(server, "spooler_task", "hello", module=MODULE)
    found = wait_records(server, "spooler_task", count=3, timeout=15)
    assert all(r["text"] == "hello" for r in found)
    no_spool_files_left(server)
    assert len(records(server, "spooler_task")) == 3


def test_process_purchase_retries_once_more_and_stops(server: UwsgiServer) -> None:
    """The README's process_purchase: retry_count=2 and RetryTaskException(timeout=...) run twice."""
    handle = call(server, "process_purchase", 17, module=MODULE)
    found = wait_records(server, "process_purchase", count=2, timeout=15)
    assert gaps(found)[0] >= 1
    assert outcome(server, handle["id"]).status is TaskStatus.FAILED
    no_spool_files_left(server)
    assert len(records(server, "process_purchase")) == 2


@pytest.mark.parametrize(("task", "runs"), [("asks_for_more", 3), ("asks_again", 2)])
def test_explicit_retry_requests_run_as_many_times_as_asked(
    server: UwsgiServer, task: str, runs: int
) -> None:
    """RetryTaskException(count=3) on the first run gives three runs in all; Retry(max_attempts=2)
    two; each is the same task, and no spool file is left behind."""
    handle = call(server, task, task, module=MODULE)
    found = wait_records(server, task, count=runs, timeout=15)
    assert [r["attempt"] for r in found] == list(range(1, runs + 1))
    assert {r["task_id"] for r in found} == {handle["id"]}
    final = outcome(server, handle["id"])
    assert final.status is TaskStatus.FAILED and final.attempts == runs
    no_spool_files_left(server)
    assert len(records(server, task)) == runs


def test_a_policy_retries_its_exceptions_with_backoff(server: UwsgiServer) -> None:
    """RetryPolicy(max_attempts=4, delay=0.5, backoff=2, retry_on=(IOError,)): 0.5, 1, 2 s gaps.

    Gaps are at least the delay and under a second more: ``at`` has whole-second resolution and is
    rounded up, never down.
    """
    handle = call(server, "io_flaky", "io", "io", module=MODULE)
    found = wait_records(server, "io", count=4, timeout=20)
    for gap, delay in zip(gaps(found), (0.5, 1, 2), strict=True):
        assert delay <= gap < delay + 1.5, gaps(found)
    assert {r["task_id"] for r in found} == {handle["id"]}
    final = outcome(server, handle["id"])
    assert final.status is TaskStatus.FAILED
    assert final.error is not None and final.error.type_path == "builtins.OSError"
    no_spool_files_left(server)


def test_a_policy_does_not_retry_other_exceptions(server: UwsgiServer) -> None:
    """The same policy fails a KeyError at once."""
    handle = call(server, "io_flaky", "key", "key", module=MODULE)
    wait_records(server, "key")
    final = outcome(server, handle["id"])
    assert final.status is TaskStatus.FAILED
    assert final.attempts == 1
    assert len(records(server, "key")) == 1


def test_remove_files_sequentially_works_as_written(server: UwsgiServer) -> None:
    """The README's chaining example: one file per hop, a failed removal retried once later with
    current_task.at, results and errors gathered in the buffer across every hop."""
    folder = results_dir(server) / "to-remove"
    folder.mkdir()
    for name in ("a.txt", "c.txt"):
        (folder / name).write_text(name)
    (folder / "b_dir").mkdir()  # os.remove() fails on a directory
    call(server, "remove_files_sequentially", module=MODULE)
    (done,) = wait_records(server, "removal-done", timeout=30)
    hops = records(server, "removal-hop")
    assert [h["selected"] for h in hops] == ["a.txt", "b_dir", "b_dir", "c.txt"]
    assert sorted(done["results"]) == ["a.txt", "b_dir", "c.txt"]
    assert list(done["errors"]) == ["b_dir"] and "Is a directory" in done["errors"]["b_dir"]
    assert sorted(p.name for p in folder.iterdir()) == ["b_dir"]
    assert hops[2]["time"] - hops[1]["time"] >= 2  # current_task.at = timedelta(seconds=2)
    assert hops[1]["time"] - hops[0]["time"] >= 1  # the decorator's at=timedelta(seconds=1)
    no_spool_files_left(server)


def test_mule_tasks_retry_at_once_in_a_mule(server: UwsgiServer) -> None:
    """A mule task with a policy and no delay is sent back to a mule at once, up to max_attempts."""
    handle = call(server, "mule_flaky", "mule-retry", via="mule", module=MODULE)
    found = wait_records(server, "mule-retry", count=3)
    assert all(r["role"].startswith("mule") for r in found)
    assert [r["attempt"] for r in found] == [1, 2, 3]
    assert outcome(server, handle["id"]).status is TaskStatus.FAILED


def test_delayed_mule_retries_wait_in_the_spooler(server: UwsgiServer) -> None:
    """A delayed mule retry waits in the spooler (a mule has no at) and runs in a mule when due."""
    call(server, "mule_flaky_later", "mule-later", via="mule", module=MODULE)
    found = wait_records(server, "mule-later", count=2, timeout=10)
    assert [r["role"].startswith("mule") for r in found] == [True, True]
    assert gaps(found)[0] >= 1
    no_spool_files_left(server)


def test_delayed_mule_retries_without_a_spooler_wait_in_a_timer(uwsgi_server: ServerFactory) -> None:
    """Without a spooler, a delayed mule retry waits in a timer thread of the mule, not a sleep."""
    mules_only = uwsgi_server("mules-only", spoolers=0, mules=1, farms={})
    call(mules_only, "mule_flaky_later", "timer-later", via="mule", module=MODULE)
    call(mules_only, "note", "meanwhile", via="mule")
    found = wait_records(mules_only, "timer-later", count=2, timeout=10)
    (meanwhile,) = wait_records(mules_only, "meanwhile")
    assert gaps(found)[0] >= 1
    assert meanwhile["time"] < found[1]["time"]  # the mule kept serving during the delay


def test_get_current_task_exposes_the_running_task(server: UwsgiServer) -> None:
    """Inside a spooled task, get_current_task() gives its id, attempt and 0.7.3's retry settings."""
    handle = call(server, "introspect", "intro", module="tests.integration.apps.itasks")
    (found,) = wait_records(server, "intro")
    assert found["task_id"] == handle["id"]
    assert json.loads(found["seen"]) == {
        "attempt": 1,
        "retry_count": 2,
        "retry_timeout": 5.0,
        "buffer": {},
        "deep": handle["id"],
    }


def test_scheduled_tasks_start_on_time_at_the_default_frequency(server: UwsgiServer) -> None:
    """at=+2 s runs about 2 s later even though uWSGI only scans every 30 s by itself."""
    handle = call(server, "note", "on-time", options={"at_in": 2})
    due = Path(handle["spool_file"]).stat().st_mtime
    (found,) = wait_records(server, "on-time", timeout=10)
    assert due <= found["time"] < due + 1
