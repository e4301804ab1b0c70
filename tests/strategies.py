"""Hypothesis strategies for task arguments, task specs and retry policies."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import assume
from hypothesis import strategies as st

from uwsgi_tasks import Jitter, RetryPolicy
from uwsgi_tasks._spec import LAST_SECOND, PRIORITIES, TaskSpec
from uwsgi_tasks.testing import first_difference, strategies


@attrs.define
class Point:
    """An attrs argument that cattrs round-trips exactly."""

    x: int
    y: float
    label: str = ""
    when: datetime | None = None


@dataclasses.dataclass(frozen=True)
class Money:
    """A dataclass argument with a Decimal field."""

    amount: Decimal
    currency: str


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Opaque:
    """No JSON form and no __eq__ beyond identity: only a pickle can carry it."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


fixed_offsets = strategies._fixed_offsets
timezones = strategies.timezones
texts = strategies.texts
hashables = strategies.hashables
scalars: st.SearchStrategy[Any] = strategies.scalars | st.sampled_from(list(Color) + list(Level))

objects: st.SearchStrategy[Any] = st.one_of(
    st.builds(
        Point,
        x=st.integers(),
        y=st.floats(allow_nan=False),
        label=texts,
        when=st.none() | st.datetimes(timezones=st.none() | st.just(timezone.utc)),
    ),
    st.builds(Money, amount=st.decimals(allow_nan=False, places=2), currency=texts),
    st.builds(Opaque, st.integers()),
)


def values(leaves: st.SearchStrategy[Any] = scalars | objects) -> st.SearchStrategy[Any]:
    """Argument trees: JSON containers, tuples, sets, dicts with any hashable keys."""
    return strategies.values(leaves)


json_values = values(scalars)

exception_types = st.sampled_from([Exception, OSError, KeyError, ValueError, TimeoutError])


@st.composite
def _retry_policies(draw: st.DrawFn) -> RetryPolicy:
    try:
        return RetryPolicy(
            max_attempts=draw(st.integers(1, 20)),
            delay=draw(st.floats(0, 3600)),
            backoff=draw(st.floats(1, 3)),
            max_delay=draw(st.none() | st.floats(0, 7200)),
            jitter=draw(st.sampled_from(Jitter)),
            retry_on=tuple(draw(st.lists(exception_types, max_size=3))),
            dont_retry_on=tuple(draw(st.lists(exception_types, max_size=2))),
        )
    except ValueError:  # an uncapped schedule past 100 years: refused by design
        assume(False)
        raise


retry_policies = _retry_policies()

task_ids = st.uuids().map(lambda u: u.hex)


@st.composite
def specs(draw: st.DrawFn, args: st.SearchStrategy[Any] | None = None) -> TaskSpec:
    args = values() if args is None else args
    return TaskSpec(
        function=draw(st.sampled_from(["tests.unit.tasks:add", "myapp.tasks:send_email", "m:A.b"])),
        task_id=draw(task_ids),
        enqueued_at=draw(st.floats(0, 4e9)),
        args=tuple(draw(st.lists(args, max_size=4))),
        kwargs=draw(st.dictionaries(texts.filter(str.isidentifier) | texts, args, max_size=4)),
        attempt=draw(st.integers(1, 50)),
        at=draw(st.none() | st.integers(0, LAST_SECOND)),
        priority=draw(st.none() | st.integers(0, PRIORITIES - 1)),
        spooler=draw(st.none() | st.just("/var/spool/app")),
        mule=draw(st.none() | st.integers(0, 8) | st.sampled_from(["farm1", "ünïcode"])),
        working_dir=draw(st.none() | texts),
        retry=draw(st.none() | retry_policies),
        spooler_return=draw(st.booleans()),
        store_result=draw(st.booleans()),
        buffer=draw(st.dictionaries(hashables, args, max_size=3)),
    )


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down (1 != True != 1.0 here)."""
    return first_difference(a, b) is None
