"""Signal tasks outside uWSGI: decorating is harmless, objects stay callable, bad settings are refused."""

from __future__ import annotations

import logging
import pickle
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import uwsgi_tasks
from uwsgi_tasks import (
    ConfigurationError,
    CronTask,
    SignalTask,
    TimerTask,
    cron,
    cron_lazy,
    rbtimer,
    rbtimer_lazy,
    signal,
    timer,
    timer_lazy,
)
from uwsgi_tasks._signals import check_target

seen: list[int] = []


def handler(signum: int) -> int:
    seen.append(signum)
    return signum * 2


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()


@pytest.mark.parametrize(
    "decorate",
    [
        timer(seconds=5),
        timer(seconds=timedelta(minutes=1), iterations=3),
        timer_lazy(seconds=5),
        rbtimer(seconds=5),
        rbtimer_lazy(seconds=5, iterations=2),
        cron(minute=-5),
        cron_lazy(minute=0, hour=3),
    ],
)
def test_decorators_return_objects_that_still_run_the_function(decorate: Any) -> None:
    """Every decorator returns an object (never None, unlike 0.7.3's @timer and @cron); run() calls it."""
    made = decorate(handler)
    assert isinstance(made, TimerTask | CronTask)
    assert made.run(7) == 14
    assert seen == [7]
    assert made.fn is handler


@pytest.mark.parametrize("name", ["timer", "timer_lazy", "rbtimer", "rbtimer_lazy", "cron", "cron_lazy"])
def test_decorators_read_as_the_functions_they_are(name: str) -> None:
    """The decorators are made, not written out, yet help(), pickling and argument errors name them."""
    decorator = getattr(uwsgi_tasks, name)
    assert (decorator.__name__, decorator.__qualname__) == (name, name)
    assert decorator.__module__ == "uwsgi_tasks._periodic"
    assert decorator.__doc__
    assert pickle.loads(pickle.dumps(decorator)) is decorator
    with pytest.raises(TypeError, match=rf"^{name}\(\) takes from 0 to 1 positional arguments"):
        decorator(handler, handler)


def test_starting_outside_uwsgi_is_inert_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Outside uWSGI, starting a timer does nothing and says so; it doesn't raise."""
    caplog.set_level(logging.INFO, "uwsgi_tasks")
    lazy = timer_lazy(handler, seconds=5)
    assert lazy() is False
    assert lazy.start() is False
    assert "not started, uWSGI is not running" in caplog.text
    assert seen == []


def test_plain_signals_run_in_place_outside_uwsgi() -> None:
    """@signal returns a SignalTask: calling it runs the function; send() runs it in place here."""
    made = signal(12, target="workers")(handler)
    assert isinstance(made, SignalTask)
    assert made(3) == 6
    made.send()
    assert seen == [3, 12]


def test_add_setup_changes_a_lazy_task_before_it_starts() -> None:
    """add_setup(seconds=10, iterations=2), as in the 0.7.3 README; unknown or bad settings are refused."""
    lazy = timer_lazy(handler, seconds=5)
    lazy.add_setup(seconds=10, iterations=2)
    assert (lazy.seconds, lazy.iterations, lazy.red_black) == (10, 2, True)
    with pytest.raises(TypeError, match="add_setup"):
        lazy.add_setup(minute=3)
    with pytest.raises(ValueError, match="second"):
        lazy.add_setup(seconds=0)
    crontab = cron_lazy(handler, minute=0)
    crontab.add_setup(hour=4)
    assert crontab.hour == 4


@pytest.mark.parametrize(
    "target",
    [
        "",
        "worker",
        "worker3",
        "workers",
        "active-workers",
        "spooler",
        "mule",
        "mule2",
        "mules",
        "farm_img",
        "farm1",
    ],
)
def test_targets_uwsgi_routes_are_accepted(target: str) -> None:
    """Every target string uWSGI's signal router accepts is accepted."""
    assert check_target(target) == target
    assert timer(handler, seconds=5, target=target).target == target


@pytest.mark.parametrize(
    "target", ["farms", "bogus", "mule9x", "subscribed", "Workers", "spooler ", "x" * 70]
)
def test_unknown_targets_fail_at_decoration(target: str) -> None:
    """A target uWSGI would only log as unsupported is a ValueError when the task is declared."""
    with pytest.raises(ValueError, match="unknown signal target"):
        timer(handler, seconds=5, target=target)


@given(st.integers().filter(lambda n: not 0 <= n <= 255))
def test_signal_numbers_outside_a_byte_are_refused(number: int) -> None:
    """uWSGI would wrap 300 to 44 silently: numbers outside 0-255 are a ValueError."""
    with pytest.raises(ValueError, match="0-255"):
        signal(number)(handler)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"seconds": 0}, ValueError),
        ({"seconds": 1.5}, TypeError),
        ({"seconds": "5"}, TypeError),
        ({"seconds": timedelta(milliseconds=500)}, TypeError),
        ({"seconds": 5, "iterations": 0}, ValueError),
        ({"seconds": 5, "signal": True}, TypeError),
        ({"seconds": 5, "target": 3}, TypeError),
        ({"seconds": 5, "unknown": 1}, TypeError),
    ],
)
def test_bad_timer_settings(options: dict[str, Any], error: type[Exception]) -> None:
    """Settings uWSGI can't honour raise at decoration."""
    with pytest.raises(error):
        timer(handler, **options)


def test_a_timer_needs_its_seconds() -> None:
    """A bare @timer (0.7.3 defaulted to 0 seconds) is a TypeError."""
    with pytest.raises(TypeError):
        timer(handler)  # type: ignore[call-overload] # on purpose


@pytest.mark.parametrize(
    "fields",
    [
        {"minute": 60},
        {"minute": -60},
        {"hour": 24},
        {"day": 0},
        {"day": 32},
        {"month": 0},
        {"month": 13},
        {"dayweek": 8},
    ],
)
def test_bad_cron_fields(fields: dict[str, Any]) -> None:
    """Cron fields outside uWSGI's ranges are a ValueError."""
    with pytest.raises(ValueError, match="cron"):
        cron(handler, **fields)


def test_cron_warns_about_every_minute(caplog: pytest.LogCaptureFixture) -> None:
    """cron(hour=...) without minute runs every minute of that hour: 0.7.3's trap is pointed out."""
    cron(handler, hour=-1)
    assert "runs every minute" in caplog.text
    caplog.clear()
    cron(handler, minute=0, hour=-1)
    assert caplog.text == ""


def test_decorating_a_non_function_is_a_type_error() -> None:
    """0.7.3's @timer(5) passed 5 as the function; here it is a clear TypeError."""
    with pytest.raises(TypeError, match="decorates a function"):
        timer(5, seconds=5)  # type: ignore[call-overload] # on purpose


def test_signals_not_registered_refuse_to_start() -> None:
    """Started where the handler couldn't be registered, a timer raises rather than never running."""
    from uwsgi_tasks import _uwsgi

    lazy = timer_lazy(handler, seconds=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_uwsgi, "RUNNING", True)
        with pytest.raises(ConfigurationError, match="not registered in the master"):
            lazy.start()


def test_cron_and_timer_fields_reach_uwsgi_in_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """What start() hands to uwsgi.add_cron and add_timer/add_rb_timer: every field, in uWSGI's
    argument order, negative "every N" values untouched, add_setup changes included."""
    from uwsgi_tasks import _uwsgi
    from uwsgi_tasks._periodic import CronTask, TimerTask

    added: list[tuple[object, ...]] = []
    monkeypatch.setattr(_uwsgi, "add_cron", lambda *args: added.append(("cron", *args)))
    monkeypatch.setattr(_uwsgi, "add_timer", lambda *args: added.append(("timer", *args)))
    nightly = CronTask(lambda signum: None, minute=-5, hour=3, dayweek=1, lazy=True)
    nightly._add(7)
    nightly.add_setup(minute=30, day=-2, month=12)
    nightly._add(8)
    three = TimerTask(lambda signum: None, seconds=2, iterations=3, lazy=True)
    three._add(9)
    plain = TimerTask(lambda signum: None, seconds=timedelta(minutes=1), lazy=True)
    plain._add(10)
    assert added == [
        ("cron", 7, -5, 3, -1, -1, 1),
        ("cron", 8, 30, 3, -2, 12, 1),
        ("timer", 9, 2, 3),
        ("timer", 10, 60, None),
    ]
