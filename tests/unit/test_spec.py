"""Scheduling keys: at= and priority= normalised the way uWSGI needs them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uwsgi_tasks._spec import LAST_SECOND, PRIORITIES, priority_number, unix_time


@given(st.floats(0, LAST_SECOND))
def test_at_is_never_earlier_than_asked(seconds: float) -> None:
    """Fractions round up: uWSGI starts at whole seconds and must not start a task early."""
    at = unix_time(seconds)
    assert at - 1 < seconds <= at <= LAST_SECOND


@given(st.floats(LAST_SECOND + 0.5, allow_infinity=True) | st.just(float("nan")) | st.floats(max_value=-0.5))
def test_at_outside_1970_to_9999_is_refused(seconds: float) -> None:
    """What no spooler can schedule (past year 9999, not a number) is refused where it is asked."""
    with pytest.raises(ValueError, match="at="):
        unix_time(seconds)


@given(st.integers(PRIORITIES) | st.integers(max_value=-1))
def test_priorities_outside_a_c_int_are_refused(priority: int) -> None:
    with pytest.raises(ValueError, match="priority"):
        priority_number(priority)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.timezones()))
def test_aware_datetimes_convert_by_their_instant(when: datetime) -> None:
    """An aware datetime is converted by its real instant, whatever its zone."""
    assert unix_time(when) >= when.timestamp() > unix_time(when) - 1


def test_at_forms() -> None:
    """at= takes unix seconds, numeric strings, aware or naive datetimes (local) and timedeltas."""
    now = 1_900_000_000.25
    assert unix_time(timedelta(seconds=30), now=now) == 1_900_000_031
    assert unix_time("1900000000") == 1_900_000_000
    noon_moscow = datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=3)))
    assert unix_time(noon_moscow) == int(datetime(2030, 1, 1, 9, tzinfo=timezone.utc).timestamp())
    naive = datetime(2030, 1, 1, 12)
    assert unix_time(naive) == int(time.mktime(naive.timetuple()))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("soon", ValueError),
        (-5, ValueError),
        (None, TypeError),
        (True, TypeError),
        (float("inf"), ValueError),
    ],
)
def test_bad_at_values(value: Any, error: type[Exception]) -> None:
    """Unparseable, negative or infinite times are refused."""
    with pytest.raises(error):
        unix_time(value)


@pytest.mark.parametrize(("value", "number"), [(0, 0), (7, 7), ("10", 10), ("003", 3)])
def test_priorities(value: int | str, number: int) -> None:
    """Ints and numeric strings >= 0 are priorities (0.7.3 required strings; ints now work)."""
    assert priority_number(value) == number


@pytest.mark.parametrize("value", [-1, "high", "1.5", "-2", True, 2.0, "\u0661"])
def test_bad_priorities(value: Any) -> None:
    """Anything uWSGI wouldn't take as a priority directory is a ValueError."""
    with pytest.raises(ValueError, match="priority"):
        priority_number(value)
