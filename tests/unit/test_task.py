"""@task and Task outside uWSGI: every executor runs in place, after a real codec round trip."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.strategies import Opaque, Point
from uwsgi_tasks import (
    SPOOL_RETRY,
    EncodeError,
    Ignore,
    RetryPolicy,
    RetryTaskException,
    Task,
    TaskCancelled,
    TaskExecutor,
    TaskFailed,
    TaskStatus,
    get_current_task,
    task,
)

calls: list[tuple[Any, ...]] = []


@task
def add(a: int, b: int = 0) -> int:
    calls.append((a, b))
    return a + b


@task(executor=TaskExecutor.SPOOLER, retry_count=3)
def flaky(fail_times: int) -> str:
    current = get_current_task()
    assert current is not None
    if current.attempt <= fail_times:
        raise RetryTaskException()
    return f"ok on {current.attempt}"


@task
def boom(message: str) -> None:
    raise KeyError(message)


@task
def echo(value: Any) -> Any:
    return value


@task
def where_am_i() -> str:
    return os.getcwd()


@task(retry=RetryPolicy(max_attempts=2, retry_on=(OSError,)))
def io_error() -> None:
    raise OSError("disk")


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


def test_bare_called_and_configured_decorators_make_tasks() -> None:
    """@task, @task() and @task(executor, **options) all give a Task keeping the function."""

    def f() -> int:
        return 1

    assert isinstance(task(f), Task)
    assert isinstance(task()(f), Task)
    configured = task(TaskExecutor.MULE, mule=2)(f)
    assert configured.executor is TaskExecutor.MULE
    assert configured.config.mule == 2
    assert configured.fn is f and configured.function is f
    assert task(executor=TaskExecutor.SPOOLER)(f).executor is TaskExecutor.SPOOLER


def test_the_executor_is_accepted_by_position() -> None:
    """A positional executor is used (0.7.3 silently ignored it and used AUTO)."""
    assert task(TaskExecutor.SPOOLER)(lambda: None).executor is TaskExecutor.SPOOLER


def test_the_executor_twice_is_an_error() -> None:
    """Positional and keyword executor together is a TypeError."""
    with pytest.raises(TypeError, match="executor twice"):
        task(TaskExecutor.SPOOLER, executor=TaskExecutor.MULE)


@pytest.mark.parametrize("thing", [42, "module.function", None.__class__, staticmethod(lambda: 1)])
def test_decorating_a_non_function_is_a_type_error(thing: Any) -> None:
    """Only functions can be tasks; the error says what was given."""
    with pytest.raises(TypeError, match="@task"):
        task(thing)


def test_async_functions_are_refused() -> None:
    """An async function would be sent as a never-awaited coroutine: refused at decoration."""

    async def f() -> None:
        pass

    with pytest.raises(TypeError, match="async"):
        task(f)


def test_unknown_options_are_a_type_error_listing_the_options() -> None:
    """A misspelt option fails at decoration, naming it and the valid ones."""
    with pytest.raises(TypeError, match=r"unknown task option\(s\): retry_cont; the options are"):
        task(retry_cont=3)  # type: ignore[call-overload] # on purpose
    with pytest.raises(TypeError, match="unknown"):
        add.options(prio=1)  # type: ignore[call-arg] # on purpose


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"priority": -1}, ValueError),
        ({"priority": "high"}, ValueError),
        ({"at": "tomorrow"}, ValueError),
        ({"at": object()}, TypeError),
        ({"mule": -1}, ValueError),
        ({"mule": 1.5}, TypeError),
        ({"retry": 3}, TypeError),
        ({"spooler_return": "yes"}, TypeError),
        ({"retry": RetryPolicy(), "retry_count": 2}, TypeError),
        ({"retry_count": "3"}, TypeError),
    ],
)
def test_bad_option_values_are_refused_at_decoration(options: dict[str, Any], error: type[Exception]) -> None:
    """Bad option values raise the matching builtin when the task is defined."""
    with pytest.raises(error):
        task(**options)


def test_calling_a_task_outside_uwsgi_runs_it_in_place() -> None:
    """Outside uWSGI the call runs the function at once; the handle is done and holds the result."""
    handle = add(2, b=3)
    assert calls == [(2, 3)]
    assert handle.status is TaskStatus.SUCCEEDED
    assert handle.done()
    assert handle.result() == 5
    assert handle.exception() is None
    assert handle.executor is TaskExecutor.RUNTIME
    assert handle.spool_file is None
    assert len(handle.id) == 32


@pytest.mark.parametrize("send", ["spool", "mule", "__call__"])
def test_every_executor_runs_in_place_outside_uwsgi(send: str) -> None:
    """spool(), mule() and calling all run in place outside uWSGI."""
    assert getattr(add, send)(1, 1).result() == 2


def test_run_returns_the_value_and_raises_what_the_function_raises() -> None:
    """run() is a direct call through the codec: the value back, or the task's own exception."""
    assert add.run(4) == 4
    with pytest.raises(KeyError, match="nope"):
        boom.run("nope")


def test_arguments_go_through_the_codec_in_place() -> None:
    """In place, the function gets decoded copies of its arguments, as in production."""
    data = {"when": datetime(2030, 1, 1, tzinfo=timezone.utc), "p": Point(1, 2.0), "t": (1, 2)}
    result = echo.run(data)
    assert result == data and result is not data
    assert type(result["t"]) is tuple


def test_unpicklable_arguments_fail_at_the_call_and_nothing_runs(secret: str) -> None:
    """An argument that can't be sent raises EncodeError at the call, naming it; the task doesn't run."""
    with pytest.raises(EncodeError, match="b"):
        add.spool(1, b=lambda: 1)  # type: ignore[arg-type] # on purpose
    assert calls == []


def test_an_oversized_mule_payload_fails_in_place_too() -> None:
    """A mule message over 64 KiB is refused at the call outside uWSGI as it would be inside."""
    with pytest.raises(EncodeError, match="mule receives whole"):
        echo.mule(b"x" * 70_000)
    assert echo.spool(b"x" * 70_000).result() == b"x" * 70_000


def test_pickled_arguments_are_reported_on_the_handle(secret: str) -> None:
    """A handle says which arguments had to be sent as signed pickles."""
    handle = echo.spool(Opaque(1))
    assert handle.pickled == ("args[0]",)
    assert handle.result() == Opaque(1)


def test_results_that_cannot_be_encoded_fail_the_task(secret: str) -> None:
    """A result the result store couldn't keep fails the task in place, as it would in production."""

    @task
    def returns_lambda() -> Any:
        return lambda: 1

    failed = returns_lambda.spool()
    assert failed.status is TaskStatus.FAILED
    with pytest.raises(TaskFailed, match="EncodeError"):
        failed.result()


def test_a_failure_is_recorded_as_data_on_the_handle() -> None:
    """A failing task gives a FAILED handle whose result raises TaskFailed with type, message, traceback."""
    handle = boom("gone")
    assert handle.status is TaskStatus.FAILED
    error = handle.exception()
    assert isinstance(error, TaskFailed)
    assert error.type_path == "builtins.KeyError"
    assert error.message == "'gone'"
    assert "raise KeyError(message)" in error.traceback
    with pytest.raises(TaskFailed) as raised:
        handle.result()
    assert isinstance(raised.value.__cause__, KeyError)


def test_none_is_a_real_result() -> None:
    """A task returning None succeeded with the value None."""
    handle = echo(None)
    assert handle.status is TaskStatus.SUCCEEDED and handle.result() is None


def test_retries_run_at_once_in_place() -> None:
    """In place, a retried task runs again at once, up to its attempts; the task id is kept."""
    handle = flaky(2)
    assert handle.result() == "ok on 3"
    assert handle.attempt == 3
    failed = flaky(3)
    assert failed.status is TaskStatus.FAILED and failed.attempt == 3


def test_policy_retries_only_the_exceptions_it_names() -> None:
    """retry_on=(OSError,) retries OSError up to max_attempts; KeyError fails at once."""
    handle = io_error()
    assert handle.status is TaskStatus.FAILED and handle.attempt == 2
    assert boom("x").attempt == 1


def test_ignore_cancels_the_task() -> None:
    """raise Ignore() drops the task: CANCELLED, and result() raises TaskCancelled."""

    @task
    def skip() -> None:
        raise Ignore("nothing to do")

    handle = skip()
    assert handle.status is TaskStatus.CANCELLED
    with pytest.raises(TaskCancelled, match="nothing to do"):
        handle.result()


def test_spool_retry_is_a_plain_value_without_a_policy() -> None:
    """Returning -1 without any retry configured is just a result, not a retry request."""
    assert echo(SPOOL_RETRY).result() == SPOOL_RETRY


def test_options_returns_a_changed_copy() -> None:
    """options() changes a copy; the task itself keeps its options."""
    later = add.options(at=timedelta(seconds=5), priority="3")  # type: ignore[arg-type] # 0.7.3: untyped
    assert later.config.priority == 3 and later.fn is add.fn
    assert add.config.priority is None
    assert later(1).result() == 1


def test_working_dir_defaults_to_the_callers_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task runs in the caller's cwd by default, in an explicit directory, or where it is (None)."""
    monkeypatch.chdir(tmp_path)
    assert where_am_i().result() == str(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert where_am_i.options(working_dir=elsewhere)().result() == str(elsewhere)
    assert os.getcwd() == str(tmp_path)
    assert where_am_i.options(working_dir=None)().result() == str(tmp_path)


def test_a_missing_working_dir_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A working_dir that doesn't exist is logged and the task runs where it is."""
    handle = where_am_i.options(working_dir=tmp_path / "gone")()
    assert handle.result() == os.getcwd()
    assert "can't enter working_dir" in caplog.text


def test_repr_names_the_task() -> None:
    """reprs name the task's path and state."""
    assert repr(add) == "<Task tests.unit.test_task:add executor=AUTO>"
    assert "tests.unit.test_task:add" in repr(add(1)) and "succeeded" in repr(add(1))
