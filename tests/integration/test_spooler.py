"""The spooler executor on a real uWSGI: execution, scheduling, priorities, big payloads, no 30 s waits."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ServerFactory,
    call,
    kick_spoolers,
    records,
    wait_records,
)
from uwsgi_tasks import _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration


def test_a_spooled_task_runs_in_the_spooler(shared_server: UwsgiServer) -> None:
    """.spool() in a worker writes a spool file uWSGI named; the spooler runs the task from it."""
    handle = call(shared_server, "note", "spooled", 42)
    spool_dir = shared_server.spool_dirs[0]
    assert handle["executor"] == "SPOOLER"
    assert Path(handle["spool_file"]).parent == spool_dir
    assert Path(handle["spool_file"]).name.startswith("uwsgi_spoolfile_on_")
    (record,) = wait_records(shared_server, "spooled")
    assert record["role"] == "spooler"
    assert record["value"] == 42
    assert record["task_id"] == handle["id"]
    wait_until(lambda: not os.path.exists(handle["spool_file"]), 5)


def test_a_scheduled_task_reports_scheduled_from_its_file(shared_server: UwsgiServer) -> None:
    """A task with a future at= is SCHEDULED, read from its spool file's mtime."""
    handle = call(shared_server, "note", "later", options={"at_in": 3600})
    assert handle["status"] == "scheduled"
    assert os.stat(handle["spool_file"]).st_mtime > time.time() + 3500
    os.unlink(handle["spool_file"])


def test_a_mebibyte_argument_round_trips_through_the_body(shared_server: UwsgiServer) -> None:
    """A 1 MiB argument travels in the spool file's body and arrives whole."""
    size = 1 << 20
    handle = call(shared_server, "checksum", "big", payload=size)
    assert "error" not in handle, handle
    (record,) = wait_records(shared_server, "big")
    expected = bytes(range(256)) * (size // 256)
    assert record["size"] == size
    assert record["sha256"] == hashlib.sha256(expected).hexdigest()


def test_a_task_spooled_from_inside_a_task_starts_at_once(shared_server: UwsgiServer) -> None:
    """Chained hops start within 0.5 s with spooler-frequency at uWSGI's 30 s (0.7.3 waited ~30 s)."""
    assert "spooler-frequency" not in shared_server.get_json("/info")["opt"]
    call(shared_server, "chain", "chain", 3)
    found = wait_records(shared_server, "chain", count=7, timeout=20)
    started = {r["hops"]: r["started"] for r in found if "started" in r}
    spooled = {r["spooled"]: r["spooled_at"] for r in found if "spooled_at" in r}
    assert sorted(started) == [0, 1, 2, 3]
    for hop in (2, 1, 0):
        assert started[hop] - spooled[hop] < 0.5, (hop, started[hop] - spooled[hop])


def test_a_task_spooled_while_the_spooler_is_busy_starts_when_it_is_free(
    shared_server: UwsgiServer, tmp_path: Path
) -> None:
    """A task sent while the spooler runs a long task starts right after it, not at the next scan."""
    flag = tmp_path / "release"
    call(shared_server, "block", "busy", str(flag))
    wait_records(shared_server, "busy")
    call(shared_server, "note", "while-busy")
    flag.touch()
    end = next(r for r in wait_records(shared_server, "busy", count=2) if r["phase"] == "end")
    (after,) = wait_records(shared_server, "while-busy", timeout=20)
    assert after["time"] - end["time"] < 0.5


def test_at_is_never_early_and_runs_when_due(uwsgi_server: ServerFactory) -> None:
    """at= in the future waits for its second (rounded up), then runs at the next scan."""
    server = uwsgi_server(spooler_frequency=1, mules=0)
    handle = call(server, "note", "at", options={"at_in": 2})
    due = os.stat(handle["spool_file"]).st_mtime
    assert handle["status"] == "scheduled"
    (record,) = wait_records(server, "at", timeout=10)
    assert record["time"] >= due


def test_lower_priorities_run_first(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """With --spooler-ordered, priority 1 runs before 3 before 5, and all before unprioritised tasks."""
    flag = tmp_path / "go"
    call(shared_server, "block", "hold", str(flag))
    wait_records(shared_server, "hold")
    for priority in (5, None, 1, 3):
        options = {} if priority is None else {"priority": priority}
        handle = call(shared_server, "note", "prio", priority, options=options)
        assert "error" not in handle, handle
    flag.touch()
    order = [r["value"] for r in wait_records(shared_server, "prio", count=4, timeout=20)]
    assert order == [1, 3, 5, None]


def _write_spool_file(spool_dir: Path, message: dict[bytes, bytes]) -> Path:
    """Enqueue from outside uWSGI: write under a name the spooler ignores, then rename into place."""
    name = f"uwsgi_spoolfile_on_test_{os.getpid()}_{time.monotonic_ns()}"
    temporary = spool_dir / f".tmp-{name}"
    temporary.write_bytes(_codec.pack_spool_file(message))
    final = spool_dir / name
    temporary.rename(final)
    return final


def test_unimportable_tasks_and_corrupt_files_are_set_aside(shared_server: UwsgiServer) -> None:
    """A spool file naming no task, or holding garbage, is logged and moved aside, never looped on."""
    spool_dir = shared_server.spool_dirs[0]
    missing = _codec.encode_spool(TaskSpec("no_such_module:gone", "a" * 32, time.time())).message
    not_a_task = _codec.encode_spool(TaskSpec("os:system", "b" * 32, time.time(), args=("true",))).message
    corrupt = {b"uwsgi_tasks": b"1", b"task": b"{not json"}
    foreign = {b"ud_spool_func": b"something_else"}
    files = [_write_spool_file(spool_dir, m) for m in (missing, not_a_task, corrupt, foreign)]
    kick_spoolers(shared_server)
    aside = spool_dir / ".uwsgi_tasks" / "set_aside"
    wait_until(lambda: all((aside / f.name).exists() for f in files), 10, message=shared_server.log())
    assert not any(f.exists() for f in files)
    reasons = [json.loads((aside / f"{f.name}.reason.json").read_text())["reason"] for f in files]
    assert "not a registered task" in reasons[0]
    assert "'os:system' is not a task" in reasons[1]
    assert "undecodable" in reasons[2]
    assert "not a uwsgi_tasks task" in reasons[3]
    log = shared_server.log()
    assert all(f"spool file {f} set aside" in log for f in files)


def test_working_dir_default_explicit_and_none(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """Tasks run in the caller's cwd by default, in working_dir if given, where the spooler is with None."""
    worker_cwd = shared_server.get_json("/info")["cwd"]
    call(shared_server, "where", "cwd-default")
    call(shared_server, "where", "cwd-explicit", options={"working_dir": str(tmp_path)})
    call(shared_server, "where", "cwd-none", options={"working_dir": None})
    assert wait_records(shared_server, "cwd-default")[0]["cwd"] == worker_cwd
    assert wait_records(shared_server, "cwd-explicit")[0]["cwd"] == str(tmp_path)
    assert wait_records(shared_server, "cwd-none")[0]["cwd"] == str(shared_server.spool_dirs[0])


def test_spooler_return_hands_the_return_code_to_uwsgi(shared_server: UwsgiServer) -> None:
    """spooler_return=True: SPOOL_OK deletes the file; a non-int is logged and treated as OK."""
    done = call(shared_server, "returns_code", "code-ok", -2)
    odd = call(shared_server, "returns_code", "code-none", None)
    wait_records(shared_server, "code-ok")
    wait_records(shared_server, "code-none")
    wait_until(lambda: not os.path.exists(done["spool_file"]) and not os.path.exists(odd["spool_file"]), 5)
    assert len(records(shared_server, "code-none")) == 1
    assert "returned 'NoneType', not an int: treated as SPOOL_OK" in shared_server.log()


def test_a_file_kept_for_uwsgi_to_retry_is_not_rerun_in_a_loop(uwsgi_server: ServerFactory) -> None:
    """spooler_return=True and SPOOL_RETRY: uWSGI runs the file again at its next scan. The wake-up a
    spooler gives itself after a busy spell must not turn that into a loop."""
    server = uwsgi_server(mules=0)  # uWSGI's default spooler-frequency: 30 s
    kept = call(server, "returns_code", "kept", -1)
    wait_records(server, "kept")
    call(server, "note", "after")  # a spell that ran a task: it wakes the spooler, "kept" runs again
    wait_records(server, "after")
    time.sleep(0.2)  # the wake-ups that follow a spell come within milliseconds
    settled = len(records(server, "kept"))
    time.sleep(0.5)  # asserting that nothing more happens: a loop would run it hundreds of times here
    assert len(records(server, "kept")) == settled
    assert os.path.exists(kept["spool_file"])


def test_a_kept_file_is_not_rerun_while_another_spooler_is_busy(uwsgi_server: ServerFactory) -> None:
    """Another spooler's tasks coming and going are not arrivals for this one: its kept file waits for
    uWSGI's next scan meanwhile."""
    server = uwsgi_server(mules=0, spoolers=2)
    call(server, "chain", "busy-next-door", 1000)  # 1,000 hops in the first spooler, one after the other
    wait_until(lambda: len(records(server, "busy-next-door")) > 20, 10)
    call(server, "returns_code", "kept-aside", -1, options={"spooler": str(server.spool_dirs[1])})
    wait_until(lambda: any(r.get("hops") == 0 for r in records(server, "busy-next-door")), 60)
    # Its first run and the wake-ups that follow it; in a loop it would run again after every spell.
    assert 1 <= len(records(server, "kept-aside")) <= 4


def test_only_the_spoolers_main_thread_takes_its_signals(shared_server: UwsgiServer) -> None:
    """The spooler's helper thread (the watchdog) blocks SIGUSR1: a wake-up taken by it would leave the
    spooler asleep in epoll on its main thread, up to spooler-frequency."""
    call(shared_server, "note", "threads")
    wait_records(shared_server, "threads")
    (pid,) = (p for p in shared_server.get_json("/info")["spooler_pids"] if p > 0)
    usr1 = 1 << (signal.SIGUSR1 - 1)

    def blocked(tid: str) -> int:
        status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)

    def helpers() -> list[str]:
        return [tid for tid in os.listdir(f"/proc/{pid}/task") if tid != str(pid)]

    wait_until(lambda: len(helpers()) >= 1, 5)
    assert not blocked(str(pid)) & usr1
    assert all(blocked(tid) & usr1 for tid in helpers())
