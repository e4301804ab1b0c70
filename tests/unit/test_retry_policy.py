"""RetryPolicy: validation at construction, and its schedule as a pure function."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import retry_policies
from uwsgi_tasks import Jitter, RetryPolicy


@given(retry_policies)
def test_delays_have_one_entry_per_retry_and_grow_up_to_the_cap(policy: RetryPolicy) -> None:
    """delays() has max_attempts - 1 entries, never negative, non-decreasing, never past max_delay."""
    delays = policy.delays()
    assert len(delays) == policy.max_attempts - 1
    assert all(d >= 0 for d in delays)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    if policy.max_delay is not None:
        assert all(d <= policy.max_delay for d in delays)


@given(policy=retry_policies, attempt=st.integers(1, 30), draw=st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_its_named_bounds(policy: RetryPolicy, attempt: int, draw: float) -> None:
    """NONE keeps the delay, FULL stays in [0, d], EQUAL in [d/2, d], for any random draw."""
    base = policy.bounds_for(attempt)[1]
    delay = policy.delay_for(attempt, random=lambda: draw)
    if policy.jitter is Jitter.NONE:
        assert delay == base
    elif policy.jitter is Jitter.FULL:
        assert 0 <= delay <= base
    else:
        assert base / 2 <= delay <= base


def test_the_documented_timeline() -> None:
    """max_attempts=4, delay=0.5, backoff=2 waits 0.5, 1 and 2 seconds."""
    assert RetryPolicy(max_attempts=4, delay=0.5, backoff=2).delays() == (0.5, 1.0, 2.0)
    assert RetryPolicy(max_attempts=5, delay=1, backoff=10, max_delay=50).delays() == (1, 10, 50, 50)


def test_timedeltas_keep_their_days() -> None:
    """A timedelta delay counts its days (0.7.3 kept only .seconds)."""
    assert RetryPolicy(delay=timedelta(days=1, seconds=5)).delay == 86405.0
    assert RetryPolicy.from_legacy(3, timedelta(days=1, seconds=5)).delay == 86405.0


def test_the_random_source_is_injectable() -> None:
    """A seeded random source gives reproducible jitter."""
    policy = RetryPolicy(max_attempts=3, delay=10, jitter="full")
    first = [policy.delay_for(1, random=random.Random(7).random) for _ in range(3)]
    assert first == [policy.delay_for(1, random=random.Random(7).random)] * 3


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_attempts": 0}, ValueError),
        ({"max_attempts": True}, TypeError),
        ({"max_attempts": 2.0}, TypeError),
        ({"delay": -1}, ValueError),
        ({"delay": math.nan}, ValueError),
        ({"delay": "1"}, TypeError),
        ({"backoff": 0.5}, ValueError),
        ({"max_delay": -1}, ValueError),
        ({"jitter": "sometimes"}, ValueError),
        ({"retry_on": (KeyError, "OSError")}, TypeError),
        ({"retry_on": int}, TypeError),
        ({"dont_retry_on": (object,)}, TypeError),
        ({"max_attempts": 500, "delay": 1, "backoff": 10}, ValueError),
    ],
)
def test_invalid_policies_fail_at_construction(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """Bad values raise ValueError or TypeError when the policy is made, not when a task fails."""
    with pytest.raises(error):
        RetryPolicy(**kwargs)


def test_retry_on_and_dont_retry_on() -> None:
    """should_retry() matches retry_on unless dont_retry_on also matches; a single class is accepted."""
    policy = RetryPolicy(retry_on=OSError, dont_retry_on=(FileNotFoundError,))
    assert policy.retry_on == (OSError,)
    assert policy.should_retry(ConnectionError())
    assert not policy.should_retry(FileNotFoundError())
    assert not policy.should_retry(KeyError())


@pytest.mark.parametrize(("count", "attempts"), [(None, 1), (0, 1), (1, 1), (2, 2), (3, 3)])
def test_legacy_retry_count_counts_runs_in_all(count: int | None, attempts: int) -> None:
    """0.7.3's retry_count=N means N runs in all; only explicit requests retry."""
    policy = RetryPolicy.from_legacy(count, None)
    assert policy.max_attempts == attempts
    assert policy.delay == 0
    assert not policy.should_retry(Exception())


@pytest.mark.parametrize("backoff", ["2", "fast", True, None])
def test_backoff_is_a_number(backoff: object) -> None:
    """Typed and checked alike: a string, a bool or None is refused (it once took float("2"))."""
    with pytest.raises(TypeError, match="backoff"):
        RetryPolicy(backoff=backoff)  # type: ignore[arg-type]


def test_the_jitter_names_are_the_jitters() -> None:
    from typing import get_args

    from uwsgi_tasks.typing import JitterName

    assert set(get_args(JitterName)) == {jitter.value for jitter in Jitter}
