"""SpoolerBackend against the expectations Django has of task backends, outside uWSGI (in place).

Inside uWSGI the same backend spools: tests/integration/test_examples.py runs it in the example project.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import pytest
from django.test import override_settings

from tests import django_support as dj
from uwsgi_tasks.testing import InPlace


@pytest.fixture(scope="module")
def tasks() -> ModuleType:
    dj.configure()
    from tests import django_task_functions

    return django_task_functions


@pytest.fixture
def signals() -> Iterator[list[tuple[str, str, str]]]:
    """(signal, status, result id) for every task signal sent during the test."""
    seen: list[tuple[str, str, str]] = []

    def receiver(name: str) -> Any:
        def record(sender: Any, task_result: dj.TaskResult[Any, Any], **kwargs: Any) -> None:
            seen.append((name, str(task_result.status), task_result.id))

        return record

    receivers = {name: receiver(name) for name in ("enqueued", "started", "finished")}
    dj.task_enqueued.connect(receivers["enqueued"])
    dj.task_started.connect(receivers["started"])
    dj.task_finished.connect(receivers["finished"])
    yield seen
    dj.task_enqueued.disconnect(receivers["enqueued"])
    dj.task_started.disconnect(receivers["started"])
    dj.task_finished.disconnect(receivers["finished"])


def test_it_advertises_what_it_does_outside_uwsgi(tasks: ModuleType) -> None:
    """Outside uWSGI tasks run in place at once: no defer, results read back (from this process),
    priority trivially kept, coroutine functions run."""
    backend = dj.task_backends["default"]
    assert type(backend).__name__ == "SpoolerBackend"
    assert backend.supports_defer is False
    assert backend.supports_get_result is True
    result = tasks.add.using(backend="default").enqueue(2, 3)
    assert backend.get_result(result.id).return_value == 5
    assert backend.supports_priority is True
    assert backend.supports_async_task is True


def test_enqueue_runs_in_place_and_gives_a_finished_result(tasks: ModuleType) -> None:
    """The result is Django's: normalised args and kwargs, times in order, one attempt, the task."""
    result = tasks.echo.enqueue(1, (2, 3), b"four", five={"six": 6})
    assert result.status == dj.TaskResultStatus.SUCCESSFUL and result.is_finished
    assert result.args == [1, [2, 3], "four"] and result.kwargs == {"five": {"six": 6}}
    assert result.return_value == [[1, [2, 3], "four"], {"five": {"six": 6}}]
    assert result.task == tasks.echo and result.backend == "default"
    assert result.enqueued_at is not None and result.started_at is not None and result.finished_at is not None
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert result.attempts == 1 and result.errors == []
    assert result.enqueued_at.tzinfo is not None  # USE_TZ: aware datetimes


def test_coroutine_and_context_tasks(tasks: ModuleType) -> None:
    """async def tasks run to completion; takes_context gets the result's id and the attempt."""
    assert tasks.add_later.enqueue(2, 3).return_value == 5
    result = tasks.whoami.enqueue()
    assert result.return_value == [result.id, 1]


@pytest.mark.parametrize(
    ("name", "kind", "message"), [("fail", ValueError, "no"), ("leave", SystemExit, "leaving")]
)
def test_a_failure_is_carried_as_django_expects(
    tasks: ModuleType, name: str, kind: type, message: str
) -> None:
    """FAILED, return_value raising ValueError("Task failed"), and a TaskError naming the exception
    class, with the traceback ending in the exception."""
    task = getattr(tasks, name)
    result = task.enqueue(message) if name == "fail" else task.enqueue()
    assert result.status == dj.TaskResultStatus.FAILED and result.is_finished
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value
    [error] = result.errors
    assert error.exception_class is kind
    assert error.traceback.endswith(f"{kind.__name__}: {message}\n")
    assert result.started_at is not None and result.finished_at is not None


def test_a_return_value_json_cannot_hold_fails_the_task(tasks: ModuleType) -> None:
    """Like Django's own backends: the return value is normalised to JSON, or the task fails."""
    result = tasks.unserializable.enqueue()
    assert result.status == dj.TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError


def test_signals_come_in_order_with_the_same_result_id(tasks: ModuleType, signals: list[Any]) -> None:
    """task_enqueued (READY), task_started (RUNNING), task_finished (SUCCESSFUL or FAILED)."""
    ok = tasks.add.enqueue(1, 2)
    failed = tasks.fail.enqueue("no")
    assert signals == [
        ("enqueued", "READY", ok.id),
        ("started", "RUNNING", ok.id),
        ("finished", "SUCCESSFUL", ok.id),
        ("enqueued", "READY", failed.id),
        ("started", "RUNNING", failed.id),
        ("finished", "FAILED", failed.id),
    ]


def test_get_result_and_refresh(tasks: ModuleType) -> None:
    """get_result gives the same result; refresh() reloads it; Task.get_result checks the task."""
    result = tasks.add.enqueue(1, 2)
    again = dj.default_task_backend.get_result(result.id)
    assert again == result and again is not result
    assert tasks.add.get_result(result.id) == result
    result.refresh()
    assert result.return_value == 3
    with pytest.raises(dj.TaskResultMismatch):
        tasks.echo.get_result(result.id)
    for unknown in ("0" * 32, "not an id"):
        with pytest.raises(dj.TaskResultDoesNotExist):
            dj.default_task_backend.get_result(unknown)


def test_async_enqueue_and_get_result(tasks: ModuleType) -> None:
    """aenqueue and aget_result work (Django runs the sync methods in a thread)."""

    async def both() -> tuple[Any, Any]:
        result = await tasks.add.aenqueue(4, 5)
        return result, await tasks.add.aget_result(result.id)

    result, again = asyncio.run(both())
    assert result.return_value == 9 and again == result


def test_validation(tasks: ModuleType) -> None:
    """Django's own checks hold: no run_after here (tasks run at once), priorities in range, known
    queues, module-level functions."""
    with pytest.raises(dj.InvalidTask, match="run_after"):
        tasks.add.using(run_after=datetime.now(timezone.utc) + timedelta(hours=1))
    with pytest.raises(dj.InvalidTask, match="priority"):
        tasks.add.using(priority=101)
    with pytest.raises(dj.InvalidTask, match="Queue 'nowhere'"):
        tasks.add.using(queue_name="nowhere")
    with pytest.raises(dj.InvalidTask, match="module level"):

        @dj.task
        def local() -> None: ...

    assert tasks.add.using(priority=-100).enqueue(1, 1).return_value == 2


def test_spoolers_option_declares_queues(tasks: ModuleType, tmp_path: Any) -> None:
    """OPTIONS SPOOLERS maps queues to spooler directories; its queues are valid (with "default")."""
    options = {"SPOOLERS": {"reports": str(tmp_path)}}
    with override_settings(TASKS={"default": {"BACKEND": dj.BACKEND, "OPTIONS": options}}):
        backend = dj.task_backends["default"]
        assert backend.queues == {"default", "reports"}
        assert tasks.add.using(queue_name="reports").enqueue(1, 2).return_value == 3
    wrong = {"default": {"BACKEND": dj.BACKEND, "OPTIONS": {"SPOOLERS": ["x"]}}}
    with override_settings(TASKS=wrong), pytest.raises(TypeError, match="SPOOLERS"):
        dj.task_backends["default"]


def test_in_place_mode_raises_the_task_exception_at_enqueue(tasks: ModuleType) -> None:
    """With uwsgi_tasks.testing.InPlace (the tasks_in_place fixture), a failing task raises."""
    with InPlace() as in_place, pytest.raises(ValueError, match="loud"):
        tasks.fail.enqueue("loud")
    assert [handle.function for handle in in_place.handles] == ["uwsgi_tasks.contrib.django._backend:run"]


def _result_from_a_note(spool_dir: Any, result_id: str, task: str, args: list[Any]) -> Any:
    """get_result of a note (as the site writes it) naming *task*, its spool file on another host."""
    from uwsgi_tasks import _codec
    from uwsgi_tasks._outcomes._where import file_store

    call = {
        "task": task,
        "backend": "default",
        "args": args,
        "kwargs": {},
        "priority": 0,
        "queue_name": "default",
        "run_after": None,
        "enqueued_at": 1.0,
        "spool_dir": "/elsewhere/spool",
        "spool_file": f"/elsewhere/spool/uwsgi_spoolfile_on_b_{result_id}",
    }
    file_store(str(spool_dir)).put_note(result_id, "django", _codec.encode_value(call).message)
    options = {"SPOOLERS": {"default": str(spool_dir)}}
    with override_settings(TASKS={"default": {"BACKEND": dj.BACKEND, "OPTIONS": options}}):
        return dj.default_task_backend.get_result(result_id)


def test_a_result_enqueued_on_another_host_is_ready_until_it_starts(tasks: ModuleType, tmp_path: Any) -> None:
    """With the note in sight but the spool file on another host (a shared store, another web
    server), a task that has no record yet is READY, not a result that does not exist."""
    result = _result_from_a_note(tmp_path, "e" * 32, "tests.django_task_functions.add", [1, 2])
    assert result.status == dj.TaskResultStatus.READY and result.args == [1, 2]


def test_a_note_never_imports_a_module_that_is_not_the_applications(tmp_path: Any) -> None:
    """get_result reads a note someone could have written: one naming a task in a module that is not
    imported, not in an installed app and not declared imports nothing, and there is no such result."""
    import sys

    sys.modules.pop("json.tool", None)
    with pytest.raises(dj.TaskResultDoesNotExist):
        _result_from_a_note(tmp_path, "f" * 32, "json.tool.main", [])
    assert "json.tool" not in sys.modules
