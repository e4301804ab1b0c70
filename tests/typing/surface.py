"""The rest of the public surface, pinned: every name of ``uwsgi_tasks.__all__`` that api.py doesn't
use, and the members of handles, running tasks, policies and targets. Type-checked by mypy --strict
and by pyright (strict) through tests/integration/test_wheel_types.py, never run.

One misuse per line, each with a ``type: ignore[code]`` that both checkers must need.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Literal

from typing_extensions import assert_type

from uwsgi_tasks import (
    SPOOL_IGNORE,
    SPOOL_OK,
    SPOOL_RETRY,
    ConfigurationError,
    CronTask,
    CurrentTask,
    DecodeError,
    EncodeError,
    ExecutorUnavailable,
    Ignore,
    Jitter,
    Remote,
    ResultError,
    ResultTimeout,
    Retry,
    RetryPolicy,
    RetryTaskException,
    SerializationError,
    SpoolDirectory,
    SpoolError,
    Task,
    TaskCancelled,
    TaskExecutor,
    TaskFailed,
    TaskHandle,
    TaskNotFound,
    TaskStatus,
    TimerTask,
    UwsgiTasksError,
    cron_lazy,
    django_setup,
    get_current_task,
    rbtimer,
    rbtimer_lazy,
    set_uwsgi_callbacks,
    task,
)

# Constants keep 0.7.3's values, as literal types.
assert_type(SPOOL_OK, Literal[-2])
assert_type(SPOOL_RETRY, Literal[-1])
assert_type(SPOOL_IGNORE, Literal[0])
assert_type(set_uwsgi_callbacks(), None)
assert_type(django_setup("myproject.settings"), None)


@task
def count(n: int) -> int:
    return n


# A handle, member by member.
handle = count.spool(1)
assert_type(handle.refresh(), TaskHandle[int])
assert_type(handle.attempt, int)
assert_type(handle.function, str)
assert_type(handle.executor, TaskExecutor)
assert_type(handle.pickled, tuple[str, ...])
assert_type(handle.done(), bool)
assert_type(handle.running(), bool)
assert_type(handle.cancelled(), bool)
assert_type(handle.cancel(), bool)
assert_type(TaskHandle.from_id("abc", "/var/spool/app"), TaskHandle[Any])
handle.add_done_callback(lambda done: print(done.result() + 1))
handle.add_done_callback(lambda done: done.result().upper())  # type: ignore[attr-defined]
handle.result(timeout="soon")  # type: ignore[arg-type]


async def awaits() -> None:
    assert_type(await handle, int)
    assert_type(await asyncio.gather(count.spool(1), count.spool(2)), tuple[int, int])


# The running task, member by member.
current = get_current_task()
assert current is not None
assert_type(current, CurrentTask)
assert_type(current.id, str)
assert_type(current.attempt, int)
assert_type(current.buffer, dict[Any, Any])
assert_type(current.retry, RetryPolicy | None)
assert_type(current.retry_count, int)
assert_type(current.retry_timeout, float)
assert_type(current.task, Task[Any, Any])
assert_type(current(5), TaskHandle[Any])
current.at = timedelta(seconds=30)
current.retry_count = 3
current.retry_timeout = timedelta(seconds=5)
current.at = "later"  # type: ignore[assignment]
current.retry_count = "3"  # type: ignore[assignment]

# Policies.
policy = RetryPolicy(max_attempts=5, delay=1, backoff=2, max_delay=30, jitter=Jitter.FULL)
assert_type(policy.delays(), tuple[float, ...])
assert_type(policy.delay_for(1), float)
assert_type(policy.bounds_for(2), tuple[float, float])
assert_type(policy.should_retry(ValueError()), bool)
assert_type(RetryPolicy.from_legacy(3, timedelta(seconds=5)), RetryPolicy)
RetryPolicy(max_attempts="3")  # type: ignore[arg-type]
RetryPolicy(max_delay="never")  # type: ignore[arg-type]

# Spoolers beyond this instance.
remote = Remote(("uwsgi://10.0.0.5:3031", "uwsgi://10.0.0.6:3031"), policy="round_robin", timeout=2.0)
assert_type(remote.addresses, tuple[str, ...])
assert_type(Remote.parse("uwsgi://10.0.0.5:3031/var/spool/app"), Remote)
assert_type(SpoolDirectory("/var/spool/app").path, str)
Remote("uwsgi://10.0.0.5:3031", policy="random")  # type: ignore[arg-type]
count.options(spooler=remote).spool(1)
count.options(spooler=SpoolDirectory("/var/spool/app")).spool(1)


# Timers beyond api.py's.
@rbtimer(seconds=10, iterations=3)
def thrice(signum: int) -> None:
    pass


@rbtimer_lazy(seconds=timedelta(minutes=1))
def later(signum: int) -> int:
    return signum


@cron_lazy(hour=3, minute=0)
def at_three(signum: int) -> None:
    pass


assert_type(thrice, TimerTask[None])
assert_type(later.run(1), int)
assert_type(at_three, CronTask[None])
rbtimer(seconds=10, iterations="3")  # type: ignore[call-overload]
cron_lazy(hour="3")  # type: ignore[call-overload]

# The error tree: every class, and what the result-side errors carry.
errors: tuple[type[UwsgiTasksError], ...] = (
    ConfigurationError,
    ExecutorUnavailable,
    SerializationError,
    EncodeError,
    DecodeError,
    SpoolError,
    TaskNotFound,
    ResultError,
    TaskFailed,
    TaskCancelled,
    ResultTimeout,
)
failed = TaskFailed("myapp.Boom", "boom", "Traceback ...")
assert_type(failed.type_path, str)
assert_type(failed.traceback, str)
assert_type(Retry("again", delay=timedelta(seconds=5), max_attempts=4).max_attempts, int | None)
assert_type(RetryTaskException(count=3, timeout=10).count, int | None)
assert_type(Ignore("not needed"), Ignore)
Retry(delay="5")  # type: ignore[arg-type]
handle_status: TaskStatus = handle.status
