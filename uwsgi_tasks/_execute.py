"""Running one attempt of a task, the same way in the spooler, a mule and in place."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import attrs

from . import _context, _registry
from ._context import CurrentTask
from ._exceptions import Ignore, Retry, RetryTaskException, TaskNotFound
from ._outcome import ErrorInfo, Outcome, TaskStatus
from ._retry import RetryPolicy, seconds
from ._spec import TaskSpec, unix_time
from ._uwsgi import SPOOL_OK, SPOOL_RETRY

if TYPE_CHECKING:
    from ._task import Task

logger = logging.getLogger("uwsgi_tasks")


@attrs.frozen(slots=False)  # made for every run: see TaskSpec for why not slots
class Ran:
    """What one attempt came to.

    *outcome* is SUCCEEDED, FAILED, CANCELLED or RETRYING; *next_attempt* is the spec to send when
    RETRYING; *exit_code* is set when the task hands its return code to uWSGI (``spooler_return``).
    """

    outcome: Outcome
    next_attempt: TaskSpec | None = None
    exit_code: int | None = None
    #: The exception the function raised, for in-place runs; it never leaves the process.
    error: BaseException | None = attrs.field(default=None, eq=False)
    #: The spec names no importable task: running it again can't help.
    task_missing: bool = False


def _enter(path: str | None, task_id: str, *, remember: bool) -> str | None:
    """Go into *path* (a missing one is only a warning); where we were, if *remember* is set."""
    before = os.getcwd() if remember else None
    if path is not None and path != before:
        try:
            os.chdir(path)
        except OSError as e:
            logger.warning(
                "task %s: can't enter working_dir %r (%s); running in %r", task_id, path, e, os.getcwd()
            )
    return before


def _leave(before: str, task_id: str) -> None:
    """Go back to *before*, wherever the task went (it may have changed directory itself)."""
    try:
        os.chdir(before)
    except OSError as e:
        logger.warning("task %s: can't go back to %r after it (%s)", task_id, before, e)


def _remaining_budget(spec: TaskSpec, current: CurrentTask, request: Retry | None) -> int:
    """How many runs the task has in all, given its policy and an explicit retry request."""
    if isinstance(request, RetryTaskException) and request.count is not None:
        return spec.attempt - 1 + request.count
    if request is not None and request.max_attempts is not None:
        return request.max_attempts
    return current.retry.max_attempts if current.retry else 1


def _retry_or_fail(
    spec: TaskSpec,
    current: CurrentTask,
    error: ErrorInfo,
    request: Retry | None,
    started: float,
) -> Ran:
    max_attempts = _remaining_budget(spec, current, request)
    finished = time.time()
    if spec.attempt >= max_attempts:
        logger.warning(
            "task %s (%s) failed on attempt %d of %d: %s",
            spec.task_id,
            spec.function,
            spec.attempt,
            max_attempts,
            error.message or error.type_path,
        )
        outcome = Outcome(spec.task_id, TaskStatus.FAILED, spec.attempt, started, finished, error=error)
        return Ran(outcome)
    if request is not None and request.delay is not None:
        wait = seconds(request.delay)
    elif current.retry is not None:
        wait = current.retry.delay_for(spec.attempt)
    else:
        wait = 0.0
    retry = current.retry or RetryPolicy.from_legacy(None, None)
    if retry.max_attempts != max_attempts:
        retry = attrs.evolve(retry, max_attempts=max_attempts)
    next_attempt = attrs.evolve(
        spec,
        attempt=spec.attempt + 1,
        at=unix_time(finished + wait) if wait > 0 else None,
        buffer=current.buffer,
        retry=retry,
    )
    logger.info(
        "task %s (%s) attempt %d failed, retrying in %.1fs: %s",
        spec.task_id,
        spec.function,
        spec.attempt,
        wait,
        error.message or error.type_path,
    )
    outcome = Outcome(spec.task_id, TaskStatus.RETRYING, spec.attempt, started, finished, error=error)
    return Ran(outcome, next_attempt=next_attempt)


def execute(spec: TaskSpec, *, come_back: bool = True) -> Ran:
    """Run one attempt of *spec* and decide what comes next. Never raises for a task's failure.

    The task runs in its working_dir; *come_back* returns to where we were afterwards, even if the
    task changed directory itself (a spooler doesn't need to: uWSGI goes back to the spool directory
    after every task).
    """
    started = time.time()
    try:
        task = _registry.resolve(spec.function)
    except TaskNotFound as e:
        logger.error("task %s: %s", spec.task_id, e)
        error = ErrorInfo.from_exception(e)
        outcome = Outcome(spec.task_id, TaskStatus.FAILED, spec.attempt, started, time.time(), error=error)
        return Ran(outcome, error=e, task_missing=True)
    current = CurrentTask(spec, task)
    token = _context.enter(current)
    before = _enter(spec.working_dir, spec.task_id, remember=come_back)
    try:
        return _call(spec, task, current, started)
    finally:
        if before is not None:
            _leave(before, spec.task_id)
        _context.leave(token)


def _call(spec: TaskSpec, task: Task[Any, Any], current: CurrentTask, started: float) -> Ran:
    """Call the function, and turn what it did into a `Ran`."""
    try:
        value: Any = task.fn(*spec.args, **spec.kwargs)
    except Ignore as e:
        logger.info("task %s (%s) ignored itself: %s", spec.task_id, spec.function, e)
        outcome = Outcome(
            spec.task_id,
            TaskStatus.CANCELLED,
            spec.attempt,
            started,
            time.time(),
            error=ErrorInfo.from_exception(e),
        )
        return Ran(outcome)
    except Retry as e:
        return _retry_or_fail(spec, current, ErrorInfo.from_exception(e), e, started)
    except BaseException as e:  # KeyboardInterrupt, SystemExit, GeneratorExit too: never the process's end
        error = ErrorInfo.from_exception(e)
        if current.retry is not None and current.retry.should_retry(e):
            return attrs.evolve(_retry_or_fail(spec, current, error, None, started), error=e)
        logger.error(
            "task %s (%s) failed on attempt %d:\n%s",
            spec.task_id,
            spec.function,
            spec.attempt,
            error.traceback,
        )
        outcome = Outcome(spec.task_id, TaskStatus.FAILED, spec.attempt, started, time.time(), error=error)
        return Ran(outcome, error=e)
    if spec.spooler_return:
        return _handed_to_uwsgi(spec, value, started)
    if type(value) is int and value == SPOOL_RETRY and current.retry is not None:
        request = ErrorInfo("uwsgi_tasks.SPOOL_RETRY", "the task returned SPOOL_RETRY")
        return _retry_or_fail(spec, current, request, Retry(), started)
    outcome = Outcome(
        spec.task_id,
        TaskStatus.SUCCEEDED,
        spec.attempt,
        started,
        time.time(),
        value=value,
        has_value=True,
    )
    return Ran(outcome)


def _handed_to_uwsgi(spec: TaskSpec, value: object, started: float) -> Ran:
    """``spooler_return=True``: the function's int result is uWSGI's return code, as in 0.7.3."""
    code = value if type(value) is int else SPOOL_OK
    if type(value) is not int:
        logger.warning(
            "task %s (%s) has spooler_return=True but returned %r, not an int: treated as SPOOL_OK",
            spec.task_id,
            spec.function,
            type(value).__name__,
        )
    status = TaskStatus.SUCCEEDED if code == SPOOL_OK else TaskStatus.RETRYING
    outcome = Outcome(spec.task_id, status, spec.attempt, started, time.time(), value=value, has_value=True)
    return Ran(outcome, exit_code=code)
