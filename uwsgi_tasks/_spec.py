"""TaskSpec, what travels to the spooler or a mule, and the normalisation of its scheduling keys."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from ._retry import RetryPolicy

#: Mule target: 0 = any mule, N = mule N, a str = a farm name.
MuleTarget = int | str

#: What ``at=`` accepts: unix seconds, a datetime (naive = local time) or a delay from now. (0.7.3's
#: unix seconds as a numeric string still work at run time; checkers are told only the typed forms, so
#: that ``at="tomorrow"`` is an error where it is written.)
When = float | datetime | timedelta


# slots=False: attrs then fills the instance dict directly, which makes one in 60% of the time, and
# every task run decodes one.
@attrs.frozen(eq=True, slots=False)
class TaskSpec:
    """One attempt of one task, as it is sent and received.

    *task_id* survives retries; *attempt* counts runs from 1. *at* is the unix second the attempt is
    scheduled for, *buffer* the task's own state that survives retries and re-dispatch.
    """

    function: str
    task_id: str
    enqueued_at: float
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    attempt: int = 1
    at: int | None = None
    priority: int | None = None
    spooler: str | None = None
    mule: MuleTarget | None = None
    working_dir: str | None = None
    retry: RetryPolicy | None = None
    spooler_return: bool = False
    store_result: bool = True
    buffer: Mapping[Any, Any] = attrs.field(factory=dict)


def new_task_id() -> str:
    """A random 128-bit id, as 32 hex digits (like uuid4, without the object)."""
    return os.urandom(16).hex()


#: The last second of year 9999: a later ``at`` is no date (it overflows every date type).
LAST_SECOND: Final = 253402300799
#: Priorities are directory names uWSGI parses as a C int.
PRIORITIES: Final = 2**31


def unix_time(when: When | str, *, now: float | None = None) -> int:
    """The whole unix second a task scheduled *when* may start, never earlier than asked.

    uWSGI schedules by whole seconds (the spool file's mtime), so fractions round up: a task is
    never started early. A naive datetime is local time, as everywhere else in Python.
    """
    if isinstance(when, timedelta):
        seconds = (time.time() if now is None else now) + when.total_seconds()
    elif isinstance(when, datetime):
        seconds = when.timestamp()
    elif isinstance(when, str):
        try:
            seconds = float(when)
        except ValueError:
            raise ValueError(f"at= as a string must be unix seconds, not {when!r}") from None
    elif isinstance(when, bool) or not isinstance(when, int | float):
        raise TypeError(f"at= takes unix seconds, a datetime or a timedelta, not {when!r}")
    else:
        seconds = float(when)
    if not (math.isfinite(seconds) and 0 <= seconds <= LAST_SECOND):
        raise ValueError(f"at= must be a time between 1970 and the end of year 9999, not {when!r}")
    return math.ceil(seconds)


def priority_number(priority: int | str) -> int:
    """A spooler priority as uWSGI accepts it: a non-negative integer (a directory name of digits).

    Lower numbers run first. 0.7.3 documented strings; numeric strings keep working.
    """
    if isinstance(priority, str) and priority.isascii() and priority.isdigit() and len(priority) < 11:
        priority = int(priority)
    if isinstance(priority, int) and not isinstance(priority, bool) and 0 <= priority < PRIORITIES:
        return priority
    raise ValueError(f"priority must be an integer >= 0 (lower runs first), not {priority!r}")
