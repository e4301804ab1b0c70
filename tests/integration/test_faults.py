"""Faults on a real uWSGI: a full disk, a result store that goes away, a task that kills its own process,
poisoned spool files. Every task that starts ends in a recorded outcome, or its file is kept to try
again: never silently gone, never run in a loop.

Every test here failed on the code before the hardening issue.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import uwsgi_tasks
from tests.integration.conftest import ServerFactory, call, kick_spoolers, records, redis_server, wait_records
from tests.integration.test_spooler import _write_spool_file
from uwsgi_tasks import TaskFailed, TaskHandle, TaskStatus, _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import free_port, wait_until

pytestmark = pytest.mark.integration

NOTE = "tests.integration.apps.itasks:note"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs at ``<tmp>/full/spool0``: the spool directory of a server named "full"."""
    mount_point = tmp_path / "full" / "spool0"
    mount_point.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_record_that_does_not_fit_keeps_the_task_until_it_does(
    uwsgi_server: ServerFactory, small_disk: Path
) -> None:
    """On a full disk a record is written whole or not at all: the task's file stays (no torn record,
    no temporary file left), and once there is room the task runs again and records its result."""
    server = uwsgi_server("full", mules=0, spooler_frequency=1)
    assert server.spool_dirs[0] == small_disk
    sent = call(server, "big_result", "big", 100_000)
    spool_file = Path(sent["spool_file"])
    wait_records(server, "big", count=2, timeout=15)  # ran, could not record, ran again at a scan
    results = small_disk / ".uwsgi_tasks" / "results"
    assert spool_file.exists()
    assert not results.exists() or not list(results.iterdir())  # no torn record, no temporary file
    handle = TaskHandle.from_id(sent["id"], small_disk)
    assert handle.status in (TaskStatus.QUEUED, TaskStatus.RUNNING)
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    assert handle.result(timeout=15) == "x" * 100_000
    assert [p.name for p in results.iterdir()] == [sent["id"]]
    # uWSGI deletes the file once the spooler callable returned, just after the record is written.
    wait_until(lambda: not spool_file.exists(), 10)


def test_a_result_store_outage_keeps_the_task_until_the_store_is_back(
    uwsgi_server: ServerFactory, tmp_path: Path
) -> None:
    """Redis stopped while a task runs and back 5 s later: the task's file stays, the task runs again
    once Redis answers, and its handle ends with the truth."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = redis_server(port, tmp_path / "redis")
    try:
        server = uwsgi_server(
            "outage", mules=0, spooler_frequency=1, options=[("env", f"UWSGITASKS_RESULT_STORE={url}")]
        )
        flag = tmp_path / "release"
        sent = call(server, "block", "outage", str(flag))
        wait_records(server, "outage")
        redis.stop()
        flag.touch()
        wait_records(server, "outage", count=2)  # the end of the run that can't be recorded
        time.sleep(5)
        assert Path(sent["spool_file"]).exists()
        redis.start()
        uwsgi_tasks.configure(result_store=url)
        handle = TaskHandle.from_id(sent["id"], server.spool_dirs[0])
        assert handle.result(timeout=15) == "outage"
    finally:
        uwsgi_tasks.configure(result_store=None)
        redis.stop()


@pytest.mark.parametrize(("task", "runs"), [("kill_self", 2), ("kill_self_unretried", 3)])
def test_a_task_that_kills_its_process_runs_its_budget_then_fails(
    uwsgi_server: ServerFactory, task: str, runs: int
) -> None:
    """A task whose process dies (SIGKILL, as the OOM killer or harakiri would) counts an attempt
    each time: with RetryPolicy(max_attempts=2) it runs twice, without a policy three times, then it
    ends FAILED with "process died" and its file is set aside."""
    server = uwsgi_server(task, mules=0, spooler_frequency=1)
    sent = call(server, task, task)
    handle = server.handle(sent["id"])
    with pytest.raises(TaskFailed) as failed:
        handle.result(timeout=30)
    assert "process died" in failed.value.message
    time.sleep(2)
    ran = records(server, task)
    assert [r["attempt"] for r in ran] == list(range(1, runs + 1))
    aside = server.spool_dirs[0] / ".uwsgi_tasks" / "set_aside" / Path(sent["spool_file"]).name
    assert aside.exists()


def test_poisoned_files_are_set_aside_once_whatever_they_raise(uwsgi_server: ServerFactory) -> None:
    """Files that parse as JSON but hold values no task has (Infinity, huge numbers, deep nesting, a
    body over the size cap) are each set aside with a reason at the first look, never kept."""
    server = uwsgi_server("poison", mules=0, spooler_frequency=1, env={"UT_MAX_TASK_SIZE": "100000"})
    good = _codec.encode_spool(TaskSpec(NOTE, os.urandom(16).hex(), time.time(), args=("poison",))).message
    tree = json.loads(good[b"task"])
    bare = {k: v for k, v in good.items() if k != b"task"}  # its task goes in the file's body

    def poisoned(**changes: object) -> dict[bytes, bytes]:
        return {**good, b"task": json.dumps({**tree, **changes}).encode()}

    messages = [
        poisoned(attempt=float("inf")),
        poisoned(attempt=10**30),
        poisoned(attempt=0),
        poisoned(enqueued_at=float("nan")),
        poisoned(at=10**20),
        poisoned(priority=-1),
        poisoned(kwargs=[1]),
        poisoned(retry={"max_attempts": 10**10, "delay": 1e308, "backoff": 1e308}),
        {**bare, b"body": b"[" * 40_000 + b"]" * 40_000},
        {**bare, b"body": b" " * 200_000},
    ]
    paths = [_write_spool_file(server.spool_dirs[0], m) for m in messages]
    kick_spoolers(server)
    aside = server.spool_dirs[0] / ".uwsgi_tasks" / "set_aside"
    wait_until(lambda: all((aside / p.name).exists() for p in paths), 15, message=server.log()[-4000:])
    reasons = [json.loads((aside / f"{p.name}.reason.json").read_text())["reason"] for p in paths]
    assert "100000" in reasons[-1] and "limit" in reasons[-1], reasons[-1]
    assert records(server, "poison") == []
    assert "Traceback" not in server.log()
