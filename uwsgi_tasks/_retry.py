"""Retries: `RetryPolicy`, how often and when a failed task runs again, as one immutable value, and
`decide`, the one place that says whether an attempt that raised runs again and after how long.

Every executor asks `decide`; what the answer is then used for (a spool file with ``at``, a mule
message, a loop in place) is the executor's business.
"""

from __future__ import annotations

import enum
import math
import random as _random
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

import attrs

from ._exceptions import Retry, RetryTaskException

# A schedule longer than this is a mistake (usually an uncapped backoff), not an intent.
_LONGEST_DELAY = 100 * 366 * 86400.0

ExceptionTypes = tuple[type[BaseException], ...]


class Jitter(enum.Enum):
    """How a retry delay is randomised, so that many failing tasks don't retry in lockstep.

    NONE keeps the delay *d*; FULL picks uniformly in ``[0, d]``; EQUAL in ``[d/2, d]``.
    """

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"


def seconds(value: float | timedelta) -> float:
    """*value* in seconds: a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a delay is seconds or a timedelta, not {value!r}")
    return float(value)


#: A `Jitter` by its value, as `RetryPolicy(jitter="full")` takes it.
JitterName = Literal["none", "full", "equal"]


def _jitter(value: Jitter | JitterName) -> Jitter:
    """The converter of *jitter*, typed so that checkers refuse anything but a Jitter or its name."""
    return Jitter(value)


def _multiplier(value: float) -> float:
    """The converter of *backoff*: a number (an int is one), never a string or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"backoff is a number, not {value!r}")
    return float(value)


def _optional_seconds(value: float | timedelta | None) -> float | None:
    return None if value is None else seconds(value)


def _exception_types(value: type[BaseException] | ExceptionTypes) -> ExceptionTypes:
    types: tuple[object, ...] = value if isinstance(value, tuple) else (value,)
    checked: list[type[BaseException]] = []
    for t in types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise TypeError(f"retry_on/dont_retry_on take exception classes, not {t!r}")
        checked.append(t)
    return tuple(checked)


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int, not {value!r}")
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1 (it counts the first run)")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0, not {value!r}")


def _at_least_one(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(f"backoff is a multiplier >= 1 (1 = fixed delay), not {value!r}")


@attrs.frozen
class RetryPolicy:
    """When and how often a failed task is run again.

    Attributes:
        max_attempts: runs in all, the first one included (1 = never retry).
        delay: seconds (or a ``timedelta``) before the first retry.
        backoff: each further retry waits *backoff* times longer (1 = a fixed delay).
        max_delay: cap on any single delay, before jitter.
        jitter: a `Jitter` or its name: ``"none"``, ``"full"`` or ``"equal"``.
        retry_on: exception classes that cause a retry (default: any ``Exception``).
        dont_retry_on: exception classes that never cause a retry, even if *retry_on* matches.

    Raising `Retry` inside a task retries it whatever *retry_on* says, as long as attempts remain.
    Delays are applied by the spooler with one-second resolution: see `delay_for`.
    """

    max_attempts: int = attrs.field(default=3, validator=_positive_int)
    delay: float = attrs.field(default=0.0, converter=seconds, validator=_non_negative)
    backoff: float = attrs.field(default=1.0, converter=_multiplier, validator=_at_least_one)
    max_delay: float | None = attrs.field(default=None, converter=_optional_seconds, validator=_non_negative)
    jitter: Jitter = attrs.field(default=Jitter.NONE, converter=_jitter)
    retry_on: ExceptionTypes = attrs.field(default=(Exception,), converter=_exception_types)
    dont_retry_on: ExceptionTypes = attrs.field(default=(), converter=_exception_types)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts > 1 and not self._base_delay(self.max_attempts - 1) <= _LONGEST_DELAY:
            raise ValueError("the retry schedule grows past 100 years; set max_delay to cap the backoff")

    @classmethod
    def from_legacy(cls, retry_count: int | None, retry_timeout: float | timedelta | None) -> RetryPolicy:
        """The policy 0.7.3's ``retry_count`` / ``retry_timeout`` options describe.

        ``retry_count`` counts runs in all (0 and 1 both mean a single run) and only explicit
        requests retry (`RetryTaskException`, or returning ``SPOOL_RETRY``); an exception fails the
        task. ``retry_timeout`` is the fixed delay; a ``timedelta`` keeps its days, and without it
        retries happen immediately (0.7.3 crashed and dropped the task instead).
        """
        if retry_count is not None and (isinstance(retry_count, bool) or not isinstance(retry_count, int)):
            raise TypeError(f"retry_count must be an int, not {retry_count!r}")
        return cls(
            max_attempts=max(retry_count or 1, 1),
            delay=0.0 if retry_timeout is None else retry_timeout,
            retry_on=(),
        )

    def _base_delay(self, failed_attempt: int) -> float:
        try:
            grown = self.delay * self.backoff ** (failed_attempt - 1)
        except OverflowError:
            grown = math.inf
        return grown if self.max_delay is None else min(grown, self.max_delay)

    def delays(self) -> tuple[float, ...]:
        """The delays before each retry, without jitter: ``max_attempts - 1`` values."""
        return tuple(self._base_delay(n) for n in range(1, self.max_attempts))

    def bounds_for(self, failed_attempt: int) -> tuple[float, float]:
        """The smallest and largest delay `delay_for` can return after attempt *failed_attempt*."""
        base = self._base_delay(failed_attempt)
        if self.jitter is Jitter.FULL:
            return 0.0, base
        if self.jitter is Jitter.EQUAL:
            return base / 2, base
        return base, base

    def delay_for(self, failed_attempt: int, *, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after attempt *failed_attempt* (1-based) failed, jitter applied.

        *random* returns a float in ``[0, 1)``; pass your own for reproducible tests. The spooler
        starts a task at whole seconds, so the wait is rounded up to the next second when the retry is
        written, and may be up to one spooler pass later than that.
        """
        low, high = self.bounds_for(failed_attempt)
        return low + (high - low) * random()

    def should_retry(self, error: BaseException) -> bool:
        """Whether *error* (raised by the task) is one this policy retries."""
        return isinstance(error, self.retry_on) and not isinstance(error, self.dont_retry_on)


#: Runs in all a task without a retry policy gets when its process keeps dying inside it.
DEATHS_WITHOUT_A_POLICY = 3


def attempts_after_deaths(policy: RetryPolicy | None) -> int:
    """Runs in all a task may have when its process keeps dying inside it (killed, out of memory, a
    crash, harakiri): its policy's *max_attempts*, or `DEATHS_WITHOUT_A_POLICY` without one (a death
    may not be the task's fault, so one is not enough to give up; a few are)."""
    return DEATHS_WITHOUT_A_POLICY if policy is None else policy.max_attempts


@attrs.frozen
class Again:
    """`decide`'s answer when the task runs again: after *delay* seconds, the next attempt carrying
    *policy* (the task's own, with the number of attempts a `Retry` request may have changed)."""

    delay: float
    policy: RetryPolicy


def retries(policy: RetryPolicy | None, raised: BaseException) -> bool:
    """Whether *raised* may make a task run again at all (attempts allowing): a `Retry` request
    always may; any other exception if the *policy* retries it."""
    return isinstance(raised, Retry) or (policy is not None and policy.should_retry(raised))


def attempts_allowed(policy: RetryPolicy | None, attempt: int, raised: BaseException) -> int:
    """How many runs the task has in all after attempt *attempt* raised *raised*: what a `Retry`
    request says (0.7.3's ``count`` counts the runs left, this one included), else its policy's."""
    if isinstance(raised, RetryTaskException) and raised.count is not None:
        return attempt - 1 + raised.count
    if isinstance(raised, Retry) and raised.max_attempts is not None:
        return raised.max_attempts
    return policy.max_attempts if policy is not None else 1


def decide(
    policy: RetryPolicy | None,
    attempt: int,
    raised: BaseException,
    *,
    random: Callable[[], float] = _random.random,
) -> Again | None:
    """Whether the task whose attempt *attempt* (from 1) raised *raised* runs again; None: it stops.

    A `Retry` (a request from the task, or returning ``SPOOL_RETRY``) retries whatever *retry_on*
    says, with its own delay if it gives one; any other exception retries only if the *policy*
    retries it (`RetryPolicy.should_retry`). Either way only while attempts remain
    (`attempts_allowed`). Pure: the same inputs (and *random*) give the same answer.
    """
    if not retries(policy, raised):
        return None
    request = raised if isinstance(raised, Retry) else None
    allowed = attempts_allowed(policy, attempt, raised)
    if attempt >= allowed:
        return None
    carried = policy or RetryPolicy.from_legacy(None, None)
    if carried.max_attempts != allowed:
        carried = _with_attempts(carried, allowed)
    if request is not None and request.delay is not None:
        wait = _clamped(seconds(request.delay))
    else:
        wait = carried.delay_for(attempt, random=random)
    return Again(wait, carried)


def _with_attempts(policy: RetryPolicy, allowed: int) -> RetryPolicy:
    """*policy* with *allowed* attempts. A request for more attempts than the policy has may grow its
    backoff past what a policy may schedule: its delays are then capped there, instead of the task
    failing to be retried at all."""
    try:
        return attrs.evolve(policy, max_attempts=allowed)
    except ValueError:
        return attrs.evolve(policy, max_attempts=allowed, max_delay=_LONGEST_DELAY)


def _clamped(wait: float) -> float:
    """A requested delay as asked, but a negative or NaN one means now. (One past the last second a
    spool file can be scheduled for is capped there when the retry is written.)"""
    return wait if wait > 0 else 0.0
