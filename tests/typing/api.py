"""The public types, pinned. Type-checked by mypy --strict, never run.

Lines with an expected error carry a ``type: ignore[code]``; warn_unused_ignores makes mypy fail if the
error ever disappears, so this file also proves what must NOT type-check.
"""

from __future__ import annotations

from datetime import timedelta

from typing_extensions import assert_type

from uwsgi_tasks import (
    CurrentTask,
    RetryPolicy,
    Task,
    TaskDecorator,
    TaskExecutor,
    TaskFailed,
    TaskHandle,
    TaskStatus,
    get_current_task,
    task,
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
send_email.options(at="tomorrow", priority=[1])  # type: ignore[arg-type]
task(retry_cont=3)  # type: ignore[call-overload]
positional.run("1")  # type: ignore[arg-type]
