"""Timers, red-black timers, cron and signal handlers on a real uWSGI, registered in the master."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import ServerFactory, records, results_dir, wait_records
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration


def away_from_an_hour_boundary() -> None:
    """The cron test expects this hour to last a few more seconds: wait out the last ones if not."""
    wait_until(lambda: datetime.datetime.now().minute != 59 or datetime.datetime.now().second < 50, 15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str) -> Iterator[UwsgiServer]:
    """2 workers, a spooler, 2 mules, and the signal tasks of apps/signal_tasks.py."""
    from tests.integration.conftest import _factory

    away_from_an_hour_boundary()
    for start in _factory(tmp_path_factory.mktemp("signals"), uwsgi_binary):
        yield start(env={"UT_SIGNALS": "1"})


def test_a_timer_fires_repeatedly(server: UwsgiServer) -> None:
    """@timer(seconds=1) runs its function every second, in the default target (a mule), with its signal."""
    found = wait_records(server, "every-second", count=3, timeout=10)
    assert all(r["role"].startswith("mule") for r in found)
    assert len({r["signum"] for r in found}) == 1


@pytest.mark.parametrize(
    ("name", "roles"),
    [
        ("to-a-mule", {"mule"}),
        ("to-mules", {"mule1", "mule2"}),
        ("to-spooler", {"spooler"}),
        ("to-workers", {"worker1", "worker2"}),
    ],
)
def test_targets_reach_the_intended_processes(server: UwsgiServer, name: str, roles: set[str]) -> None:
    """A signal sent from a worker runs in the process kinds its target names (one or all of them)."""
    server.get_json(f"/signal?name={name}")
    found = wait_records(server, name, count=len(roles))
    seen = {r["role"] for r in found}
    if roles == {"mule"}:
        assert len(found) == 1 and seen <= {"mule1", "mule2"}
    else:
        assert seen == roles


def test_cron_entries_fire_by_their_fields(server: UwsgiServer) -> None:
    """A cron entry for this hour and month fires (uWSGI runs a new entry about a second after start);
    one for another hour does not."""
    (fired,) = wait_records(server, "cron-this-hour", timeout=10)
    assert fired["role"].startswith("mule")
    assert records(server, "cron-other-hour") == []


def test_iterations_and_lazy_timers_fire_exactly_as_often_as_asked(server: UwsgiServer) -> None:
    """@timer(seconds=1, iterations=3) fires 3 times; a lazy timer with add_setup(seconds=1,
    iterations=2) fires twice once started from a worker, and starting it again does nothing."""
    started = server.get_json("/start-lazy")
    assert started == {"started": True, "again": False}
    wait_records(server, "three-times", count=3, timeout=10)
    wait_records(server, "started-later", count=2, timeout=10)
    # Proving "no more" needs waiting: two more periods of the timers.
    time.sleep(2.5)
    assert len(records(server, "three-times")) == 3
    assert len(records(server, "started-later")) == 2


def test_tasks_declared_in_a_worker_after_the_fork_refuse_to_pretend(server: UwsgiServer) -> None:
    """A lazy timer imported after the fork raises when started; an eager one raises at import."""
    lazy = server.get_json("/late-import?module=late_signal_tasks")
    assert lazy["error"] == "ConfigurationError"
    assert "not registered in the master" in lazy["message"]
    assert "--shared-import" in lazy["message"]
    eager = server.get_json("/late-import?module=late_eager_tasks")
    assert eager["error"] == "ConfigurationError"
    assert "imported in a worker after the fork" in eager["message"]


def test_running_out_of_timers_and_signals_names_the_limit(uwsgi_server: ServerFactory) -> None:
    """The 65th timer and the last free signal number raise ConfigurationError naming uWSGI's limit."""
    server = uwsgi_server("exhaust", env={"UT_EXHAUST": "1"})
    found = json.loads((results_dir(server) / "exhaust.json").read_text())
    timers, timer_error = found["timers"]
    assert timers == 64 and "at most 64 timers" in timer_error
    signals, signal_error = found["signals"]
    # Numbers 1-255 are allocated; the 65th timer's handler was registered before uWSGI refused the
    # timer (a handler can't be unregistered), so it holds a number too.
    assert timers + 1 + signals == 255
    assert "no free uWSGI signal number (1-255 are all registered)" in signal_error
