"""TaskHandle on a real uWSGI, observed from the test process: statuses, results, cancel, await."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.integration.conftest import call, records, wait_records
from uwsgi_tasks import TaskCancelled, TaskFailed, TaskHandle, TaskStatus, _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration


def status(handle: TaskHandle[Any]) -> TaskStatus:
    """The handle's status now (a function, so mypy doesn't assume a property keeps its value)."""
    return handle.status


def handle_of(server: UwsgiServer, answer: dict[str, Any]) -> TaskHandle[Any]:
    """The handle of a task a worker sent, rebuilt in this process from its id."""
    assert "error" not in answer, answer
    return TaskHandle.from_id(answer["id"], server.spool_dirs[0])


def test_a_handle_moves_through_every_status_to_its_result(
    shared_server: UwsgiServer, tmp_path: Path
) -> None:
    """SCHEDULED -> QUEUED -> RUNNING -> SUCCEEDED, each read from the world, then the value."""
    hold, release = tmp_path / "hold", tmp_path / "release"
    call(shared_server, "block", "holder", str(hold))
    wait_records(shared_server, "holder")
    handle = handle_of(
        shared_server, call(shared_server, "block", "target", str(release), options={"at_in": 1})
    )
    assert status(handle) is TaskStatus.SCHEDULED
    wait_until(lambda: status(handle) is TaskStatus.QUEUED, 5)  # due, but the spooler is busy
    hold.touch()
    wait_until(handle.running, 10)
    assert handle.spool_file is not None and handle.attempt == 1
    release.touch()
    assert handle.result(timeout=5) == "target"
    assert status(handle) is TaskStatus.SUCCEEDED
    assert handle.done() and not handle.running() and not handle.cancelled()


def test_a_failure_carries_the_remote_error(shared_server: UwsgiServer) -> None:
    """A failed task's handle raises TaskFailed with type path, message and traceback; exception() too."""
    handle = handle_of(shared_server, call(shared_server, "fail", "handle-fail"))
    with pytest.raises(TaskFailed) as raised:
        handle.result(timeout=5)
    assert raised.value.type_path == "builtins.ValueError"
    assert raised.value.message == "handle-fail failed on purpose"
    assert 'raise ValueError(f"{name} failed on purpose")' in raised.value.traceback
    error = handle.exception(timeout=1)
    assert error is not None and error.type_path == "builtins.ValueError"
    assert status(handle) is TaskStatus.FAILED


def test_none_is_a_result_and_arrives_promptly(shared_server: UwsgiServer) -> None:
    """A task returning None succeeds with None (not "not finished", not "unknown")."""
    handle = handle_of(shared_server, call(shared_server, "note", "returns-none", None))
    assert handle.result(timeout=5) is None
    assert handle.exception(timeout=0) is None
    assert status(handle) is TaskStatus.SUCCEEDED


def test_cancel_before_it_runs(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """cancel() on a queued task removes it under the spooler's lock: True, CANCELLED, never run."""
    release = tmp_path / "release"
    call(shared_server, "block", "cancel-holder", str(release))
    wait_records(shared_server, "cancel-holder")
    handle = handle_of(shared_server, call(shared_server, "note", "cancelled-task"))
    assert status(handle) is TaskStatus.QUEUED
    assert handle.cancel() is True
    assert status(handle) is TaskStatus.CANCELLED and handle.cancelled()
    release.touch()
    wait_records(shared_server, "cancel-holder", count=2)
    with pytest.raises(TaskCancelled):
        handle.result(timeout=1)
    call(shared_server, "note", "after-cancel")
    wait_records(shared_server, "after-cancel")
    assert records(shared_server, "cancelled-task") == []
    assert handle.cancel() is False


def test_cancel_once_it_runs_is_refused(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """cancel() on a running task returns False and the task completes."""
    release = tmp_path / "release"
    handle = handle_of(shared_server, call(shared_server, "block", "running-task", str(release)))
    wait_until(handle.running, 5)
    assert handle.cancel() is False
    release.touch()
    assert handle.result(timeout=5) == "running-task"


def test_another_process_sees_the_same_status(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """from_id() in the test process and the CLI in a subprocess read the same status."""
    release = tmp_path / "release"
    answer = call(shared_server, "block", "seen-elsewhere", str(release))
    handle = handle_of(shared_server, answer)
    wait_until(handle.running, 5)

    def cli_status() -> str:
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "uwsgi_tasks",
                "show",
                str(shared_server.spool_dirs[0]),
                answer["id"],
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(shown.stdout)["status"])

    assert cli_status() == "running"
    release.touch()
    handle.result(timeout=5)
    assert cli_status() == "succeeded"
    assert TaskHandle.from_id(answer["id"], shared_server.spool_dirs[0]).status is TaskStatus.SUCCEEDED


REMOTE_TASKS = "tests.integration.apps.remote_tasks"


def test_many_handles_awaited_at_once(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """await handle in an asyncio loop, for many handles together, gives every result, and the loop
    keeps running meanwhile: the tasks wait for a file that only another coroutine of the same loop
    creates, so awaits that blocked the loop would never see them finish."""
    release = tmp_path / "release"
    waiting = [call(shared_server, "wait_for", str(release), 10, module=REMOTE_TASKS) for _ in range(5)]
    handles = [handle_of(shared_server, sent) for sent in waiting]  # wait_for fails after 10 s
    handles += [handle_of(shared_server, call(shared_server, "note", f"awaited-{i}", i)) for i in range(15)]

    async def release_soon() -> None:
        for _ in range(5):
            await asyncio.sleep(0.01)
        release.touch()

    async def gather() -> list[Any]:
        *results, _ = await asyncio.gather(*handles, release_soon())
        return results

    results = asyncio.run(gather())
    assert results == ["released"] * 5 + list(range(15))


def test_done_callbacks_run_when_the_task_finishes(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """add_done_callback() calls back once the task is done, from a background thread."""
    release = tmp_path / "release"
    handle = handle_of(shared_server, call(shared_server, "block", "callback", str(release)))
    called = threading.Event()
    seen: list[TaskHandle[Any]] = []

    def callback(done: TaskHandle[Any]) -> None:
        seen.append(done)
        called.set()

    handle.add_done_callback(callback)
    assert not called.is_set()
    release.touch()
    assert called.wait(5)
    assert seen == [handle] and seen[0].result() == "callback"


def test_mule_tasks_report_running_and_their_outcome(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """A mule task records that it started and how it ended, in the first spooler's directory."""
    release = tmp_path / "release"
    answer = call(shared_server, "block", "mule-running", str(release), via="mule", options={"mule": 2})
    handle = handle_of(shared_server, answer)
    wait_until(lambda: status(handle) is TaskStatus.RUNNING, 5)
    release.touch()
    assert handle.result(timeout=5) == "mule-running"


def test_unknown_is_never_pending(shared_server: UwsgiServer) -> None:
    """A task id nobody knows is UNKNOWN, and waiting for it times out rather than claiming it pends."""
    handle = TaskHandle.from_id("0" * 32, shared_server.spool_dirs[0])
    assert status(handle) is TaskStatus.UNKNOWN
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uwsgi_tasks", *argv], capture_output=True, text=True, check=False
    )


def test_a_failed_task_is_listed_and_requeued_from_the_cli(
    shared_server: UwsgiServer, tmp_path: Path
) -> None:
    """A failed task is kept as a dead letter; the CLI lists it and puts it back, and it runs again."""
    marker = tmp_path / "fixed"
    answer = call(shared_server, "fail_until", "requeued", str(marker))
    handle = handle_of(shared_server, answer)
    assert isinstance(handle.exception(timeout=5), TaskFailed)
    spool_dir = str(shared_server.spool_dirs[0])
    listed = json.loads(cli("list", spool_dir, "--json").stdout)
    (row,) = [r for r in listed if r["task_id"] == answer["id"]]
    assert row["status"] == "failed" and "RuntimeError: not yet" in row["reason"]
    marker.touch()
    requeued = cli("requeue", spool_dir, answer["id"])
    assert requeued.returncode == 0, requeued.stderr
    again = TaskHandle.from_id(answer["id"], spool_dir)
    assert again.result(timeout=5) == "fixed"
    assert len(records(shared_server, "requeued")) == 2


def test_in_place_runs_inside_uwsgi_record_where_every_process_sees_them(shared_server: UwsgiServer) -> None:
    """A RUNTIME task run in a worker records its outcome in the spooler directory's store."""
    answer = call(shared_server, "note", "in-worker", 7, via="__call__", options={"executor": "RUNTIME"})
    assert answer["executor"] == "RUNTIME"
    assert records(shared_server, "in-worker")[0]["role"].startswith("worker")
    assert handle_of(shared_server, answer).result(timeout=1) == 7


def test_a_requeued_task_runs_now_even_if_it_was_scheduled_later(shared_server: UwsgiServer) -> None:
    """requeue means "due now": a set-aside task whose at= is still ahead runs at once, it is not
    spooled again until its old time (that is only for tasks sent from another host, without at)."""
    spool_dir = shared_server.spool_dirs[0]
    aside = spool_dir / ".uwsgi_tasks" / "set_aside"
    aside.mkdir(parents=True, exist_ok=True)
    spec = TaskSpec("tests.integration.apps.itasks:note", "c" * 32, time.time(), args=("requeued-early", 5))
    spec = attrs.evolve(spec, at=int(time.time()) + 3600)
    path = aside / "uwsgi_spoolfile_on_test_requeued_early"
    path.write_bytes(_codec.pack_spool_file(_codec.encode_spool(spec).message))
    Path(f"{path}.reason.json").write_text("{}")
    assert cli("requeue", str(spool_dir), spec.task_id).returncode == 0
    assert TaskHandle.from_id(spec.task_id, spool_dir).result(timeout=10) == 5
