"""Sending a task: build its spec, choose the executor, and hand it over (or run it in place)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import attrs

from . import _codec, _external, _mule, _results, _spooler, _uwsgi
from ._exceptions import ExecutorUnavailable, SerializationError
from ._execute import Ran, execute
from ._handle import TaskHandle
from ._options import CALLER_CWD, TaskExecutor
from ._outcome import ErrorInfo, TaskStatus
from ._spec import TaskSpec, new_task_id, unix_time
from ._targets import Remote, SpoolDirectory, spooler_dir

if TYPE_CHECKING:
    from ._task import Task

R = TypeVar("R")

logger = logging.getLogger("uwsgi_tasks")


class InPlaceMode(Protocol):
    """What `uwsgi_tasks.testing.InPlace` sets while it is active (see `forced`)."""

    raise_failures: bool

    def sent(self, handle: TaskHandle[Any]) -> None: ...


#: While set, every task is run in place, whatever its executor and wherever it is sent from.
forced: InPlaceMode | None = None


def new_spec(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    buffer: Mapping[Any, Any] | None,
) -> TaskSpec:
    config = task.config
    return TaskSpec(
        function=task.path,
        task_id=new_task_id(),
        enqueued_at=time.time(),
        args=args,
        kwargs=kwargs,
        at=None if config.at is None else unix_time(config.at),
        priority=config.priority,
        spooler=spooler_dir(config.spooler),
        working_dir=_caller_cwd(config.spooler) if config.working_dir is CALLER_CWD else config.working_dir,
        retry=config.retry,
        spooler_return=config.spooler_return,
        store_result=config.store_result,
        buffer=buffer or {},
    )


def _caller_cwd(spooler: str | Remote | SpoolDirectory | None) -> str | None:
    """The default working_dir: where the caller is, unless the task runs on another host."""
    return None if isinstance(spooler, Remote) else os.getcwd()


def in_place(requested: TaskExecutor) -> bool:
    """Whether a task sent here and now with *requested* runs in place: outside uWSGI, as RUNTIME,
    or while `uwsgi_tasks.testing.InPlace` is active."""
    return not _uwsgi.RUNNING or requested is TaskExecutor.RUNTIME or forced is not None


def choose(requested: TaskExecutor, task: Task[Any, Any]) -> TaskExecutor:
    """The executor that will run the task in this process's uWSGI instance.

    Outside uWSGI everything runs in place. Inside, an explicit executor the instance lacks is an
    error (0.7.3 silently fell back, losing ``at``, retries and durability).
    """
    if requested is TaskExecutor.RUNTIME or forced is not None:
        return TaskExecutor.RUNTIME
    config = task.config
    if isinstance(config.spooler, Remote | SpoolDirectory):  # any process can send beyond this instance
        if requested is TaskExecutor.MULE:
            raise ExecutorUnavailable(f"{task.path}: spooler={config.spooler!r} is a spooler, not a mule")
        return TaskExecutor.SPOOLER
    if not _uwsgi.RUNNING:
        return TaskExecutor.RUNTIME
    needs_spooler = config.at is not None or config.priority is not None or config.spooler is not None
    if requested is TaskExecutor.SPOOLER or (requested is TaskExecutor.AUTO and needs_spooler):
        if not _uwsgi.has_spooler():
            wants = "at=/priority=/spooler=" if requested is TaskExecutor.AUTO else "executor=SPOOLER"
            raise ExecutorUnavailable(
                f"{task.path}: {wants} needs a spooler; this uWSGI instance has none (--spooler)"
            )
        return TaskExecutor.SPOOLER
    if requested is TaskExecutor.MULE:
        if needs_spooler:
            raise ExecutorUnavailable(
                f"{task.path}: at=/priority=/spooler= only work with the spooler, not a mule"
            )
        if _uwsgi.mule_count() == 0:
            raise ExecutorUnavailable(
                f"{task.path}: executor=MULE needs mules; this uWSGI instance has none (--mules)"
            )
        return TaskExecutor.MULE
    if _uwsgi.has_spooler():
        return TaskExecutor.SPOOLER
    if _uwsgi.mule_count() > 0:
        return TaskExecutor.MULE
    return TaskExecutor.RUNTIME


def send(
    task: Task[Any, R],
    requested: TaskExecutor,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    buffer: Mapping[Any, Any] | None = None,
) -> TaskHandle[R]:
    route = task._routes.get(requested) if forced is None and not buffer else None
    if route is None:
        executor = choose(requested, task)
        if executor is TaskExecutor.RUNTIME:
            return _in_place(new_spec(task, args, kwargs, buffer), requested)
        if buffer:  # a re-dispatch carrying a buffer: rare enough for the general path
            spec = new_spec(task, args, kwargs, buffer)
            if executor is TaskExecutor.MULE:
                return _mule.send(attrs.evolve(spec, mule=task.config.mule))
            target = task.config.spooler
            if isinstance(target, Remote | SpoolDirectory):
                return _external.send(target, _codec.outgoing(spec))
            return _spooler.send(spec)
        route = task._routes[requested] = _route(task, executor)
    # The hot path: the task's fixed fields were encoded once (see _codec.Template).
    template, where, remote = route
    config = task.config
    working_dir = config.working_dir
    if working_dir is CALLER_CWD:  # the caller's directory means nothing on another host
        working_dir = None if remote else os.getcwd()
    out = template.outgoing(
        new_task_id(),
        time.time(),
        working_dir,
        None if config.at is None else unix_time(config.at),
        args,
        kwargs,
    )
    if where is None:
        return _mule.deliver(out)
    if isinstance(where, str):
        return _spooler.spool(out, where)
    return _external.send(where, out)


#: How a task is sent with an executor: its encoded fixed fields, where it goes (this instance's
#: spooler directory, a spooler beyond it, or None: a mule), and whether that is another host.
Route = tuple[_codec.Template, str | Remote | SpoolDirectory | None, bool]


def _route(task: Task[Any, Any], executor: TaskExecutor) -> Route:
    """How *task* is sent to *executor*. Made once per task and requested executor: `choose`'s answer
    can't change while the process lives (uWSGI's configuration is fixed), except under `forced`,
    which bypasses routes."""
    config = task.config
    where: str | Remote | SpoolDirectory | None = None
    if executor is TaskExecutor.SPOOLER:
        target = config.spooler
        if isinstance(target, Remote | SpoolDirectory):
            where = target
        else:
            where = _spooler.directory_for(task.path, target, config.priority)
    prototype = TaskSpec(
        function=task.path,
        task_id="",
        enqueued_at=0.0,
        priority=config.priority if where else None,
        spooler=spooler_dir(where) if config.spooler is not None else None,
        mule=None if where else config.mule,
        retry=config.retry,
        spooler_return=config.spooler_return,
        store_result=config.store_result,
    )
    return _codec.Template(prototype), where, isinstance(where, Remote)


def _round_trip(spec: TaskSpec, requested: TaskExecutor) -> tuple[TaskSpec, tuple[str, ...]]:
    """*spec* as the executor would receive it: what fails in production fails here too."""
    if requested is TaskExecutor.MULE:
        encoded = _codec.encode_mule(spec)
        _mule.check_size(spec.function, encoded.message, _uwsgi.MULE_MESSAGE_LIMIT)
        return _codec.decode_mule(encoded.message), encoded.pickled
    message = _codec.encode_spool(spec)
    return _codec.decode_spool(message.message), message.pickled


def _run_in_place(spec: TaskSpec, requested: TaskExecutor) -> tuple[Ran, tuple[str, ...]]:
    """Every attempt of *spec*, here and now: retries run at once, without their delay."""
    received, pickled = _round_trip(spec, requested)
    ran = execute(received)
    while ran.next_attempt is not None:
        ran = execute(_round_trip(ran.next_attempt, requested)[0])
    outcome = ran.outcome
    if outcome.status is TaskStatus.SUCCEEDED and received.store_result:
        try:
            value = _codec.decode_value(_codec.encode_value(outcome.value).message)
        except SerializationError as e:
            failed = attrs.evolve(
                outcome,
                status=TaskStatus.FAILED,
                value=None,
                has_value=False,
                error=ErrorInfo.from_exception(e),
            )
            return attrs.evolve(ran, outcome=failed, error=e), pickled
        outcome = attrs.evolve(outcome, value=value)
    elif outcome.status is TaskStatus.SUCCEEDED:
        outcome = attrs.evolve(outcome, value=None, has_value=False)
    return attrs.evolve(ran, outcome=outcome), pickled


def _in_place(spec: TaskSpec, requested: TaskExecutor) -> TaskHandle[R]:
    ran, pickled = _run_in_place(spec, requested)
    # Inside a uWSGI instance with a spooler directory the outcome goes where every process sees it.
    store = _mule.result_store() or _results.IN_PROCESS
    if spec.store_result or ran.outcome.status is not TaskStatus.SUCCEEDED:
        store.put(ran.outcome.for_store(spec.store_result))
    if isinstance(ran.error, KeyboardInterrupt):
        raise ran.error  # recorded FAILED (it did fail), then re-raised: whoever pressed ^C stops
    handle: TaskHandle[R] = TaskHandle(
        spec.task_id,
        function=spec.function,
        executor=TaskExecutor.RUNTIME,
        pickled=pickled,
        outcome=ran.outcome,
        error=ran.error,
        store=store,
    )
    mode = forced
    if mode is not None:
        mode.sent(handle)
        if mode.raise_failures and ran.outcome.status is TaskStatus.FAILED:
            if ran.error is not None:
                raise ran.error  # what the function raised, with its traceback
            ran.outcome.raise_for_status()  # the retries it asked for ran out
    return handle


def run_here(task: Task[Any, R], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> R:
    """`Task.run`: in place, raising what the function raised."""
    ran, _ = _run_in_place(new_spec(task, args, kwargs, None), TaskExecutor.RUNTIME)
    if ran.error is not None:
        raise ran.error
    ran.outcome.raise_for_status()
    return cast(R, ran.outcome.value)
