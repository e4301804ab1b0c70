"""`SpoolerBackend`: Django's tasks framework on uWSGI's spooler: durable, deferred, prioritised.

A Django task is sent as one uwsgi_tasks task, `run`, whose single argument is the call: the Django
task's path, the backend alias, the JSON-normalised arguments and the task's options. The spooler
imports the Django task and calls it the way Django's own ImmediateBackend does (coroutine functions
through ``Task.call``, the context when ``takes_context``, the same signals).

Django's `TaskResult` needs facts the spool file loses once the task ran (its arguments, when it was
enqueued), so ``enqueue`` keeps the call in a note beside the task's outcome record; the note expires
with the records (``configure(result_ttl=...)``).
"""

from __future__ import annotations

import copy
import functools
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final, TypeVar, cast

from django.conf import settings
from django.utils.module_loading import import_string
from typing_extensions import ParamSpec

from ... import _codec, _config, _registry, _uwsgi
from ..._context import get_current_task
from ..._exceptions import DecodeError, TaskNotFound
from ..._handle import TaskHandle
from ..._options import TaskExecutor
from ..._outcomes._model import ErrorInfo, Outcome, TaskStatus
from ..._outcomes._observe import in_sight, observe
from ..._outcomes._store import ResultStore
from ..._outcomes._where import file_store, shared, store_for
from ..._run._starts import started_at
from ..._send._route import in_place
from ..._send._spool import directory_for
from ..._task import Task as UwsgiTask
from ..._task import task
from ._framework import (
    TASK_MAX_PRIORITY,
    BaseTaskBackend,
    Task,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)

P = ParamSpec("P")
R = TypeVar("R")

#: The note beside the outcome record: ``<spool dir>/.uwsgi_tasks/results/<id>.django``, or in the
#: shared store when there is one.
_NOTE: Final = "django"
_CANCELLED: Final = "uwsgi_tasks.TaskCancelled"
#: Results of tasks run in place (outside uWSGI) are kept in this process, the newest this many.
_LOCAL_RESULTS: Final = 10_000

_STATUSES: Final = {
    TaskStatus.SCHEDULED: "READY",
    TaskStatus.QUEUED: "READY",
    TaskStatus.RETRYING: "READY",  # "ready to be executed again"
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCESSFUL",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "FAILED",  # Django has no CANCELLED: "unable to start"
}


class SpoolerBackend(BaseTaskBackend):
    """Runs Django tasks in uWSGI's spooler; outside uWSGI (tests, scripts), in place.

    ``OPTIONS``: ``SPOOLERS``, a mapping of queue name to spooler directory (queues not in it use
    the instance's first spooler; without ``QUEUES``, its names are the valid queues, with
    ``"default"``).

    What it advertises is what it does: ``supports_defer`` inside uWSGI; ``supports_get_result``
    always (inside uWSGI results are read from the spool directory by any process that can see it,
    or from the shared result store by any host; outside it, from this process); ``supports_priority``
    when the instance has ``spooler-ordered`` (uWSGI runs no prioritised task without it) or outside
    uWSGI, where tasks run at once; ``supports_async_task`` always.
    """

    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        spoolers = self.options.get("SPOOLERS", {})
        if not isinstance(spoolers, Mapping):
            raise TypeError(
                f"TASKS[{alias!r}]['OPTIONS']['SPOOLERS'] maps queue names to spooler directories"
            )
        self.spoolers: dict[str, str] = {str(queue): os.fspath(path) for queue, path in spoolers.items()}
        if "QUEUES" not in params:  # the queues are the ones given a spooler, and "default"
            self.queues |= set(self.spoolers)
        in_uwsgi = _uwsgi.RUNNING
        self.supports_defer = in_uwsgi
        self.supports_get_result = True
        self.supports_priority: bool = not in_uwsgi or _uwsgi.flag("spooler-ordered")
        self._local: OrderedDict[str, tuple[dict[str, Any], TaskHandle[Any]]] = OrderedDict()

    def enqueue(self, task: Task[P, R], args: Sequence[Any], kwargs: Mapping[str, Any]) -> TaskResult[P, R]:
        self.validate_task(task)
        call: dict[str, Any] = {
            "task": task.module_path,
            "backend": self.alias,
            "args": normalize_json(list(args)),
            "kwargs": normalize_json(dict(kwargs)),
            "priority": task.priority,
            "queue_name": task.queue_name,
            "run_after": _timestamp(task.run_after),
            "enqueued_at": _now(),
            "spool_dir": None,
        }
        # Django's larger priorities run sooner; uWSGI runs lower-numbered directories first.
        priority = TASK_MAX_PRIORITY - task.priority if _uwsgi.RUNNING and self.supports_priority else None
        spooler = self.spoolers.get(task.queue_name)
        sender = _sender(spooler, priority)
        if task.run_after is not None:
            sender = sender.options(at=call["run_after"])
        if in_place(TaskExecutor.SPOOLER):
            # The task runs inside spool(): run() announces it first, so the signals come in order.
            call["in_place"] = True
            handle = sender.spool(call)
            self._keep_local(handle, call)
            return cast("TaskResult[P, R]", self._local_result(handle.id))
        call["spool_dir"] = _spool_dir(spooler, priority)
        handle = sender.spool(call)
        note = {**call, "spool_file": handle.spool_file}
        store_for(call["spool_dir"]).put_note(handle.id, _NOTE, _codec.encode_value(note).message)
        result = _task_result(self.alias, handle.id, call, TaskStatus.QUEUED, 0, None, "")
        task_enqueued.send(type(self), task_result=result)
        return cast("TaskResult[P, R]", result)

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        if result_id in self._local:
            return self._local_result(result_id)
        for store in self._stores():
            try:
                data = store.get_note(result_id, _NOTE)
            except ValueError:  # not a task id at all
                raise TaskResultDoesNotExist(result_id) from None
            if data is None:
                continue
            try:
                note = _codec.decode_value(data)
            except DecodeError:
                continue
            seen = observe(result_id, store, note["spool_file"], 1)
            status = seen.status
            if status is TaskStatus.UNKNOWN and not in_sight(note["spool_file"]):
                status = TaskStatus.QUEUED  # enqueued (the note says so) on a host whose files aren't here
            worker = _worker(note["spool_dir"])
            started: float | None = None
            if status is TaskStatus.RUNNING and note["spool_dir"] is not None:
                started = started_at(note["spool_dir"], result_id)  # the spooler's start marker
                running = seen.record is not None and seen.record.status is TaskStatus.RUNNING
                if started is None and not running:
                    # uWSGI holds the file, and the task is not started yet: Django's RUNNING comes
                    # with when it started.
                    status = TaskStatus.QUEUED
            try:
                return _task_result(
                    self.alias, result_id, note, status, seen.attempt, seen.record, worker, started
                )
            except TaskNotFound as e:  # a note naming no task this process may load
                raise TaskResultDoesNotExist(f"{result_id}: {e}") from None
        raise TaskResultDoesNotExist(result_id)

    def _stores(self) -> list[ResultStore]:
        """Where notes may be: the shared store, or the files of each spooler directory."""
        everywhere = shared()
        if everywhere is not None:
            return [everywhere]
        dirs = dict.fromkeys([*map(os.path.realpath, self.spoolers.values()), *_uwsgi.spooler_dirs()])
        return [file_store(d) for d in dirs]

    def _keep_local(self, handle: TaskHandle[Any], call: dict[str, Any]) -> None:
        self._local[handle.id] = (call, handle)
        while len(self._local) > _LOCAL_RESULTS:
            self._local.popitem(last=False)

    def _local_result(self, result_id: str) -> TaskResult[..., Any]:
        call, handle = self._local[result_id]
        outcome = handle.outcome
        assert outcome is not None  # a task run in place is done when its handle exists
        return _task_result(
            self.alias, result_id, call, outcome.status, outcome.attempts, outcome, _worker(None)
        )


@functools.cache
def _sender(spooler: str | None, priority: int | None) -> UwsgiTask[[dict[str, Any]], Any]:
    """`run` with a queue's spooler and a priority, made once (each keeps its encoded template)."""
    return run.options(spooler=spooler, priority=priority) if spooler or priority is not None else run


def _task_result(
    alias: str,
    result_id: str,
    call: Mapping[str, Any],
    status: TaskStatus,
    attempt: int,
    record: Outcome | None,
    worker: str,
    started: float | None = None,
) -> TaskResult[..., Any]:
    """A `TaskResult` for what was seen: *status* and *attempt* read from the world, *record* the
    outcome record if there is one, *started* when the running attempt began (if no record says)."""
    if status is TaskStatus.UNKNOWN:
        raise TaskResultDoesNotExist(
            f"{result_id}: neither its spool file nor its outcome record exists any more (purged, or "
            "expired after result_ttl)"
        )
    cancelled = record is not None and record.error is not None and record.error.type_path == _CANCELLED
    ran = record is not None and not (status is TaskStatus.CANCELLED and cancelled)
    if status is TaskStatus.RUNNING:
        attempts = attempt
        if record is not None and record.status is TaskStatus.RUNNING:
            started = record.started_at
        ran = False  # the record, if any, is an earlier attempt's or this one's RUNNING mark
    else:
        attempts = 0 if record is None else record.attempts - (not ran)
        if record is not None and ran:
            started = record.started_at
    result: TaskResult[..., Any] = TaskResult(
        task=_enqueued_task(alias, call),
        id=result_id,
        status=TaskResultStatus(_STATUSES[status]),
        enqueued_at=_moment(call["enqueued_at"]),
        started_at=_moment(started),
        finished_at=_moment(record.finished_at) if record is not None and status.done else None,
        last_attempted_at=_moment(started),
        args=call["args"],
        kwargs=call["kwargs"],
        backend=alias,
        errors=[],
        worker_ids=[worker] * attempts,
    )
    if record is not None and status is TaskStatus.SUCCEEDED:
        object.__setattr__(result, "_return_value", record.value)  # as Django's own backends do
    elif record is not None and record.error is not None and status.done:
        result.errors.append(_task_error(record.error))
    return result


def _task_error(error: ErrorInfo) -> TaskError:
    return TaskError(
        exception_class_path=error.type_path,
        traceback=error.traceback or f"{error.type_path}: {error.message}\n",
    )


def _django_task(path: str, *, reading: bool = False) -> Task[..., Any]:
    """The module-level Django task at *path*; never anything else (a note or a spool file naming
    ``os.system`` runs nothing), and its module is imported only if it may be: already imported, in
    an installed app (the application's own code), declared (``configure(task_modules=...)``), or
    named by a task that verified against the secret (see `_registry.may_import`). *reading*: for a
    note read back by `get_result`, which verified only if a secret is configured."""
    module = path.rpartition(".")[0]
    allowed = (
        (bool(_config.signing_keys()) or _registry.declared(module))
        if reading
        else _registry.may_import(module)
    )
    if module not in sys.modules and not (allowed or _in_an_installed_app(module)):
        raise TaskNotFound(
            f"{path!r}: its module is not imported here, not in an installed app, and not declared "
            "in configure(task_modules=[...]); an unsigned task may not import it"
        )
    try:
        found = import_string(path)
    except BaseException as e:  # whatever its import raised, SystemExit included
        raise TaskNotFound(f"can't import Django task {path!r}: {e!r}") from None
    if not isinstance(found, Task):
        raise TaskNotFound(f"{path!r} is not a Django task")
    return found


def _in_an_installed_app(module: str) -> bool:
    """Whether *module* is inside one of ``INSTALLED_APPS``: the application's own code."""
    from django.apps import apps

    return any(module == c.name or module.startswith(f"{c.name}.") for c in apps.get_app_configs())


def _enqueued_task(alias: str, call: Mapping[str, Any]) -> Task[..., Any]:
    """The Django task as it was enqueued: the module-level one with the call's options.

    Not ``Task.using()``: that validates against this process's backend, which can't defer outside
    uWSGI although the task was enqueued inside it.
    """
    enqueued = copy.copy(_django_task(call["task"], reading=True))
    changes = {
        "priority": call["priority"],
        "queue_name": call["queue_name"],
        "run_after": _moment(call["run_after"]),
        "backend": alias,
    }
    for name, value in changes.items():
        object.__setattr__(enqueued, name, value)
    return enqueued


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


@functools.cache
def _spool_dir(spooler: str | None, priority: int | None) -> str:
    """The spooler directory `run` goes to (checked against this instance's configuration once)."""
    return directory_for(run.path, spooler, priority)


def _worker(spool_dir: str | None) -> str:
    """The worker id Django shows: uWSGI does not say which spooler process ran a task, so the id
    names the spooler directory (or the process, for tasks run in place)."""
    return f"uwsgi-spooler:{spool_dir}" if spool_dir is not None else f"in-place:{os.getpid()}"


def _timestamp(when: datetime | timedelta | None) -> float | None:
    if when is None:
        return None
    if isinstance(when, timedelta):  # newer Django accepts a delay from now
        return datetime.now(timezone.utc).timestamp() + when.total_seconds()
    return when.timestamp()  # naive: local time, which Django sets to TIME_ZONE


def _moment(timestamp: float | None) -> datetime | None:
    """A unix time as Django shows times: aware UTC with ``USE_TZ``, else naive local time."""
    if timestamp is None:
        return None
    if settings.USE_TZ:
        return datetime.fromtimestamp(timestamp, timezone.utc)
    return datetime.fromtimestamp(timestamp)  # noqa: DTZ006 -- naive local time is Django's USE_TZ=False


@task(executor=TaskExecutor.SPOOLER)
def run(call: dict[str, Any]) -> Any:
    """Run one Django task where uwsgi_tasks runs it, as Django's ImmediateBackend would."""
    django_task = _django_task(call["task"])
    backend_class = type(task_backends[call["backend"]])
    current = get_current_task()
    assert current is not None  # run() only runs as a task
    if call.get("in_place"):
        ready = _task_result(call["backend"], current.id, call, TaskStatus.QUEUED, 0, None, "")
        task_enqueued.send(backend_class, task_result=ready)
    worker = _worker(call["spool_dir"])
    result = _task_result(
        call["backend"], current.id, call, TaskStatus.RUNNING, current.attempt, None, worker
    )
    now = _moment(_now())
    _set(result, started_at=now, last_attempted_at=now)
    task_started.send(backend_class, task_result=result)
    try:
        if django_task.takes_context:
            value = django_task.call(TaskContext(task_result=result), *result.args, **result.kwargs)
        else:
            value = django_task.call(*result.args, **result.kwargs)
        value = normalize_json(value)
    except BaseException as e:  # what uwsgi_tasks records as a failure (KeyboardInterrupt too)
        result.errors.append(_task_error(ErrorInfo.from_exception(e)))
        _set(result, status=TaskResultStatus("FAILED"), finished_at=_moment(_now()))
        task_finished.send(backend_class, task_result=result)
        raise
    _set(result, status=TaskResultStatus("SUCCESSFUL"), finished_at=_moment(_now()), _return_value=value)
    task_finished.send(backend_class, task_result=result)
    return value


def _set(result: TaskResult[..., Any], **changes: Any) -> None:
    """Change a frozen TaskResult, as Django's own backends do."""
    for name, value in changes.items():
        object.__setattr__(result, name, value)
