"""Nothing lost, nothing forged run: the reliability scenarios of tests/stress, at test-suite sizes.

``python -m tests.stress`` runs the same scenarios at the sizes the README quotes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ServerFactory, wait_records
from tests.integration.test_spooler import _write_spool_file
from tests.stress import scenarios
from uwsgi_tasks import _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import wait_until

pytestmark = pytest.mark.integration


def test_a_spooler_killed_mid_task_runs_the_task_again(uwsgi_server: ServerFactory, tmp_path: Path) -> None:
    """At-least-once: kill -9 of the spooler during a task; the respawned spooler runs it again."""
    flags = tmp_path / "flags"
    flags.mkdir()
    figures = scenarios.kill_spooler_during_tasks(uwsgi_server(mules=0), 3, flags)
    assert figures["tasks lost"] == 0


def test_concurrent_spools_are_all_run_once(uwsgi_server: ServerFactory) -> None:
    """4 workers spooling at once: every task runs, exactly once."""
    figures = scenarios.concurrent_spools(uwsgi_server(processes=4, mules=0), 4, 250)
    assert (figures["executed"], figures["lost"], figures["duplicates"]) == (1000, 0, 0)
    assert figures["producer errors"] == 0


def test_queued_tasks_survive_a_graceful_reload(uwsgi_server: ServerFactory, tmp_path: Path) -> None:
    """Tasks queued when uWSGI reloads (master fifo "r") all run, once each, after the reload."""
    figures = scenarios.reload_with_queued_tasks(uwsgi_server(mules=0), 200, tmp_path / "go")
    assert (figures["executed"], figures["duplicates"]) == (200, 0)


def test_queued_tasks_survive_killing_and_restarting_the_server(
    uwsgi_server: ServerFactory, tmp_path: Path
) -> None:
    """Tasks queued when every uWSGI process is killed all run after a restart."""
    figures = scenarios.restart_with_queued_tasks(uwsgi_server(mules=0), 200, tmp_path / "go")
    assert figures["executed"] == 200


@pytest.mark.parametrize("ordered", [True, False], ids=["spooler-ordered", "unordered"])
def test_hostile_spool_files_never_run_and_never_crash_the_spooler(
    uwsgi_server: ServerFactory, tmp_path: Path, ordered: bool
) -> None:
    """Malformed, truncated, forged, unsigned and foreign files, with a secret configured: none runs,
    no pickle loads, the spooler survives, and every file that reaches Python is set aside (found
    where it is, with or without spooler-ordered)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    server = uwsgi_server(
        mules=0, spooler_ordered=ordered, options=[("env", f"UWSGITASKS_SECRET={scenarios.SECRET}")]
    )
    figures = scenarios.hostile_spool_files(server, 270, markers)
    assert figures["pickles loaded"] == figures["tasks run"] == figures["spooler crashes"] == 0
    assert figures["well-formed files not set aside"] == 0  # every kind but random and truncated bytes
    assert figures["set aside with a reason"] >= 270 * 7 // 9


def test_tasks_start_on_time_while_the_cpu_is_busy(uwsgi_server: ServerFactory) -> None:
    """No wake-up is lost: sent right after another task ended, in bursts, after idle spells, during
    busy spells or a second ahead, with two processes burning the CPU, every task starts within a
    second of being due (spooler-frequency is uWSGI's 30 s)."""
    figures = scenarios.pickups_under_load(uwsgi_server(mules=0), 150)
    assert figures["started more than 1 s after due"] == 0, figures


def test_a_file_arriving_with_no_wake_up_starts_at_once(uwsgi_server: ServerFactory) -> None:
    """A spool file that arrives with no signal at all (copied in by a script or a tool that writes
    uWSGI's format, after the spooler went idle) starts within seconds, not at uWSGI's next scan 30 s
    later: the spooler's watchdog sees its directory change. (uWSGI's own wake-up can also be lost:
    its loop checks for one, then sleeps; this is the same wait, made certain.)"""
    server = uwsgi_server(mules=0)  # spooler-frequency: uWSGI's 30 s
    (pid,) = (p for p in server.get_json("/info")["spooler_pids"] if p > 0)
    wchan = Path(f"/proc/{pid}/wchan")  # where the spooler's main thread waits
    wait_until(lambda: wchan.read_text() == "do_epoll_wait", 10)  # scanned, and asleep until woken
    spec = TaskSpec(
        "tests.integration.apps.itasks:note", os.urandom(16).hex(), time.time(), args=("unannounced",)
    )
    _write_spool_file(server.spool_dirs[0], _codec.encode_spool(spec).message)
    wait_records(server, "unannounced", timeout=5)


def test_result_records_are_never_torn_across_processes(tmp_path: Path) -> None:
    """Processes writing and reading one record at once never see a partial record."""
    figures = scenarios.result_store_races(tmp_path, 1.0)
    assert figures["reads"] > 0
    assert figures["torn reads"] == 0
