"""The attempt pipeline: one attempt of a task, the same way in the spooler, a mule and in place.

It finds the task, enters its context and working directory, calls the function, asks the retry
policy what comes next (`_retry.decide`), and says what the attempt came to (`Ran`). Recording that
is the caller's, through `_outcomes._writer`; sending the next attempt, through `_send._again`.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import attrs

from .. import _context, _registry, _retry
from .._context import CurrentTask
from .._exceptions import Ignore, Retry, TaskNotFound
from .._outcomes._model import ErrorInfo, Outcome, TaskStatus
from .._registry import Registered
from .._spec import LAST_SECOND, TaskSpec, unix_time
from .._uwsgi import SPOOL_OK, SPOOL_RETRY

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


def _retry_or_fail(
    spec: TaskSpec, current: CurrentTask, raised: BaseException, error: ErrorInfo, started: float
) -> Ran:
    """What an attempt that raised *raised* (or asked for a retry) comes to, as `_retry.decide` says."""
    finished = time.time()
    again = _retry.decide(current.retry, spec.attempt, raised)
    if again is None:
        if _retry.retries(current.retry, raised):  # it would have run again: its attempts are spent
            allowed = _retry.attempts_allowed(current.retry, spec.attempt, raised)
            logger.warning(
                "task %s (%s) failed on attempt %d of %d: %s",
                spec.task_id,
                spec.function,
                spec.attempt,
                allowed,
                error.message or error.type_path,
            )
        else:
            logger.error(
                "task %s (%s) failed on attempt %d:\n%s",
                spec.task_id,
                spec.function,
                spec.attempt,
                error.traceback,
            )
        outcome = Outcome(spec.task_id, TaskStatus.FAILED, spec.attempt, started, finished, error=error)
        return Ran(outcome)
    next_attempt = attrs.evolve(
        spec,
        attempt=spec.attempt + 1,
        at=unix_time(min(finished + again.delay, LAST_SECOND)) if again.delay > 0 else None,
        buffer=current.buffer,
        retry=again.policy,
    )
    logger.info(
        "task %s (%s) attempt %d failed, retrying in %.1fs: %s",
        spec.task_id,
        spec.function,
        spec.attempt,
        again.delay,
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


def _call(spec: TaskSpec, task: Registered, current: CurrentTask, started: float) -> Ran:
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
        return _retry_or_fail(spec, current, e, ErrorInfo.from_exception(e), started)
    except BaseException as e:  # KeyboardInterrupt, SystemExit, GeneratorExit too: never the process's end
        return attrs.evolve(_retry_or_fail(spec, current, e, ErrorInfo.from_exception(e), started), error=e)
    if spec.spooler_return:
        return _handed_to_uwsgi(spec, value, started)
    if type(value) is int and value == SPOOL_RETRY and current.retry is not None:
        request = ErrorInfo("uwsgi_tasks.SPOOL_RETRY", "the task returned SPOOL_RETRY")
        return _retry_or_fail(spec, current, Retry(), request, started)
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
