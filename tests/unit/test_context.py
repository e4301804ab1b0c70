"""get_current_task() in place: from any depth, per thread, with a buffer that survives retries."""

from __future__ import annotations

import contextvars
import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from uwsgi_tasks import (
    CurrentTask,
    DecodeError,
    RetryPolicy,
    RetryTaskException,
    TaskExecutor,
    TaskHandle,
    TaskStatus,
    _codec,
    get_current_task,
    task,
)


def deep() -> CurrentTask | None:
    return get_current_task()


@task(retry_count=3, retry_timeout=timedelta(days=1))
def counts(limit: int) -> dict[str, Any]:
    current = get_current_task()
    assert current is not None
    current.buffer.setdefault("runs", []).append(current.attempt)
    if current.attempt < limit:
        raise RetryTaskException(timeout=0)
    return dict(current.buffer)


@task
def introspect() -> tuple[str, int, bool]:
    current = get_current_task()
    assert current is not None
    return current.id, current.attempt, deep() is current


@task
def chained(step: int) -> Any:
    current = get_current_task()
    assert current is not None
    current.buffer.setdefault("steps", []).append(step)
    if step < 3:
        return current(step + 1)
    return current.buffer["steps"]


def test_outside_a_task_there_is_no_current_task() -> None:
    """get_current_task() is None outside a task (0.7.3 raised or walked the stack)."""
    assert get_current_task() is None


def test_the_current_task_is_the_same_at_any_depth() -> None:
    """A helper called by the task sees the same object; the id is the handle's."""
    handle = introspect()
    task_id, attempt, same = handle.result()
    assert (task_id, attempt, same) == (handle.id, 1, True)


def test_the_buffer_survives_retries() -> None:
    """What an attempt puts in the buffer is there in the next attempt."""
    assert counts(3).result() == {"runs": [1, 2, 3]}


def test_retry_settings_read_as_0_7_3_did() -> None:
    """retry_count counts runs left including this one; retry_timeout is seconds, days included."""

    @task(retry_count=3, retry_timeout=timedelta(days=1, seconds=5))
    def settings() -> tuple[int, float]:
        current = get_current_task()
        assert current is not None
        return current.retry_count, current.retry_timeout

    assert settings().result() == (3, 86405.0)


def test_retry_settings_can_be_changed_during_the_run() -> None:
    """Setting retry_count or retry (as 0.7.3 allowed) changes the next attempts."""

    @task
    def changes() -> int:
        current = get_current_task()
        assert current is not None
        if current.attempt == 1:
            current.retry_count = 3
            raise RetryTaskException()
        if current.attempt == 2:
            current.retry = RetryPolicy(max_attempts=2)
            raise RetryTaskException()
        return current.attempt

    assert changes().status is TaskStatus.FAILED
    assert changes().attempt == 2


def test_calling_the_current_task_sends_it_again_with_the_buffer() -> None:
    """current_task(args) re-dispatches the task with new arguments and the same buffer (chaining)."""
    first = chained(1)
    second = first.result()
    assert isinstance(second, TaskHandle)
    third = second.result()
    assert third.result() == [1, 2, 3]


def test_at_can_be_set_for_the_next_send() -> None:
    """current_task.at takes a timedelta/datetime/seconds for the sends it makes; bad values fail."""

    @task
    def reschedule() -> Any:
        current = get_current_task()
        assert current is not None
        current.at = timedelta(seconds=20)
        with pytest.raises(ValueError, match="at="):
            current.at = "soon"  # type: ignore[assignment] # checkers refuse it too; 0.7.3 code is untyped
        return current.at

    assert reschedule().result() == timedelta(seconds=20)


def test_threads_see_the_task_when_started_with_its_context() -> None:
    """A thread started with the task's context sees it; each concurrent task sees its own."""

    @task
    def threaded() -> tuple[bool, bool]:
        plain: list[object] = []
        copied: list[object] = []
        t1 = threading.Thread(target=lambda: plain.append(get_current_task()))
        context = contextvars.copy_context()
        t2 = threading.Thread(target=lambda: context.run(lambda: copied.append(get_current_task())))
        for thread in (t1, t2):
            thread.start()
            thread.join()
        return plain == [None], copied == [get_current_task()]

    assert threaded().result() == (True, True)


def test_handles_travel_as_values() -> None:
    """A handle returned by a task round-trips through the codec as its ids, not a pickle."""
    handle: TaskHandle[int] = TaskHandle(
        "a" * 32, function="m:f", executor=TaskExecutor.SPOOLER, spool_file="/s/uwsgi_spoolfile_on_x"
    )
    encoded = _codec.encode_value(handle)
    assert encoded.pickled == ()
    back = _codec.decode_value(encoded.message)
    assert isinstance(back, TaskHandle)
    assert (back.id, back.function, back.executor, back.spool_file) == (
        handle.id,
        "m:f",
        TaskExecutor.SPOOLER,
        "/s/uwsgi_spoolfile_on_x",
    )


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "../x"),
        (3, "/etc/passwd"),
        (3, "relative/uwsgi_spoolfile_on_x"),
        (4, 0),
        (5, "relative/dir"),
        (2, "NOPE"),
    ],
)
def test_a_handle_read_from_a_message_is_checked(index: int, value: object) -> None:
    """A handle is a value anyone who writes a message can forge: one whose spool file is not a spool
    file (cancel() would unlink it), whose store is a relative directory, or whose ids are not ids is
    refused."""
    tree = ["a" * 32, "m:f", "SPOOLER", "/s/uwsgi_spoolfile_on_x", 1, "/spool", False]
    tree[index] = value
    with pytest.raises(DecodeError, match="not a task handle"):
        _codec.decode_value(json.dumps({"$handle": tree}).encode())
