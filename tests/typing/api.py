"""The public types, pinned. Type-checked by mypy --strict, never run.

Lines with an expected error carry a ``type: ignore[code]``; warn_unused_ignores makes mypy fail if the
error ever disappears, so this file also proves what must NOT type-check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from typing_extensions import assert_type

from uwsgi_tasks import (
    CronTask,
    CurrentTask,
    ErrorInfo,
    Jitter,
    Outcome,
    ProcessDied,
    ResultError,
    ResultUnavailable,
    RetryPolicy,
    SignalTask,
    Task,
    TaskDecorator,
    TaskExecutor,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    TimerTask,
    configure,
    cron,
    get_current_task,
    signal,
    task,
    timer,
    timer_lazy,
    typing,
)


@task
def send_email(to: str, subject: str, *, urgent: bool = False) -> int:
    return len(to + subject)


@task(executor=TaskExecutor.SPOOLER, retry_count=3, retry_timeout=5)
def legacy(path: str) -> None:
    pass


@task(TaskExecutor.MULE, retry=RetryPolicy(max_attempts=4, delay=timedelta(seconds=1)))
def positional(n: int) -> list[int]:
    return [n]


@task
def add(a: int, b: int, /) -> int:
    return a + b


assert_type(add, Task[[int, int], int])
assert_type(add.options(at=timedelta(seconds=5), priority=1), Task[[int, int], int])
assert_type(send_email.spool("a@b.c", "hi"), TaskHandle[int])
assert_type(send_email.mule("a@b.c", "hi", urgent=True), TaskHandle[int])
assert_type(send_email("a@b.c", "hi"), TaskHandle[int])
assert_type(send_email.run("a@b.c", "hi"), int)
assert_type(send_email.spool("a", "b").result(timeout=5), int)
assert_type(send_email.spool("a", "b").exception(), TaskFailed | None)
assert_type(send_email.spool("a", "b").status, TaskStatus)
assert_type(send_email.spool("a", "b").spool_file, str | None)
assert_type(send_email.spool("a", "b").id, str)
assert_type(legacy.spool("/tmp/x"), TaskHandle[None])
assert_type(positional.run(1), list[int])
assert_type(task(), TaskDecorator)
assert_type(get_current_task(), CurrentTask | None)

send_email.spool(1, "hi")  # type: ignore[arg-type]
send_email.spool("a", "b", urgnet=True)  # type: ignore[call-arg]
send_email.spool("a")  # type: ignore[call-arg]
send_email.options(prioirty=1)  # type: ignore[call-arg]
send_email.options(at="tomorrow")  # type: ignore[arg-type]
send_email.options(at="1700000000")  # type: ignore[arg-type] # 0.7.3's numeric strings: run time only
send_email.options(priority=[1])  # type: ignore[arg-type]
send_email.options(priority="3")  # type: ignore[arg-type]
task(retry_cont=3)  # type: ignore[call-overload]
positional.run("1")  # type: ignore[arg-type]


@timer(seconds=5)
def tick(signum: int) -> None:
    pass


@timer_lazy(seconds=5, iterations=2)
def later(signum: int) -> str:
    return "x"


@cron(minute=0, hour=3)
def nightly(signum: int) -> None:
    pass


@signal(target="workers")
def reload_config(signum: int) -> bool:
    return True


assert_type(tick, TimerTask[None])
assert_type(later.run(3), str)
assert_type(later(), bool)
assert_type(later.start(), bool)
assert_type(nightly, CronTask[None])
assert_type(reload_config, SignalTask[bool])
assert_type(reload_config(), bool)
assert_type(reload_config.send(), None)


def no_signal_number() -> None:
    pass


timer(seconds=5)(no_signal_number)  # type: ignore[arg-type]
timer(seconds="5")  # type: ignore[call-overload]


# Hardening: the error a task whose process kept dying records, and the options that bound what a
# spooler imports and reads.
assert_type(ProcessDied("its process died"), ProcessDied)
configure(task_modules=["myapp.tasks"], max_task_size=1 << 20)
configure(task_modules="myapp.tasks")
configure(max_task_size="big")  # type: ignore[arg-type] # bytes are an int


# Structure: the result-side errors share a base; a handle's outcome is public; the typing aids have
# their own module (and stay importable from the package).
def handle_errors(handle: TaskHandle[int]) -> int:
    try:
        return handle.result(timeout=1)
    except ResultError as e:
        assert_type(e, ResultError)
        return -1


assert_type(send_email.spool("a", "b").outcome, Outcome | None)
assert_type(ResultUnavailable("x"), ResultUnavailable)
outcome = send_email.spool("a", "b").outcome
if outcome is not None:
    assert_type(outcome.status, TaskStatus)
    assert_type(outcome.attempts, int)
    assert_type(outcome.error, ErrorInfo | None)
    assert_type(outcome.error.to_exception() if outcome.error else None, TaskFailed | None)
assert_type(task(), typing.TaskDecorator)
options: typing.TaskOptionsDict = {"priority": 1, "at": 5.0}
when: typing.When = timedelta(seconds=5)
mule: typing.MuleTarget = "farm"


# Types that reach the user: converters typed, handles covariant.
RetryPolicy(jitter="full")
jitter: typing.JitterName = "equal"
RetryPolicy(jitter=jitter)
RetryPolicy(jitter=Jitter.EQUAL, backoff=2, delay=timedelta(seconds=1), max_delay=60)
RetryPolicy(jitter="sometimes")  # type: ignore[arg-type]
RetryPolicy(jitter=42)  # type: ignore[arg-type]
RetryPolicy(backoff="fast")  # type: ignore[arg-type]
RetryPolicy(delay="5")  # type: ignore[arg-type]
RetryPolicy(retry_on=ValueError, dont_retry_on=(KeyError, TypeError))
RetryPolicy(retry_on="ValueError")  # type: ignore[arg-type]


def first_results(handles: Sequence[TaskHandle[object]]) -> list[object]:
    return [handle.result() for handle in handles]


first_results([send_email.spool("a", "b"), positional.spool(1)])
