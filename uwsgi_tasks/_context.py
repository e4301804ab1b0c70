"""get_current_task(): the task being executed, from any depth of its call stack."""

from __future__ import annotations

import contextvars
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import attrs

from ._options import TaskOptionsDict
from ._retry import RetryPolicy
from ._spec import TaskSpec, When, unix_time

if TYPE_CHECKING:
    # The one import that runs back up, for types only: a running task knows its `Task` (to send it
    # again), and `Task` runs tasks in place through the pipeline that makes a `CurrentTask`.
    from ._handle import TaskHandle
    from ._registry import Registered
    from ._task import Task


class CurrentTask:
    """The task being executed, as `get_current_task` returns it.

    *buffer* is the task's own dict: what it holds when an attempt ends travels with the next attempt
    and with a re-dispatch, so a task can keep state across retries (0.7.3's ``buffer``).
    *retry* can be changed during the run; the change applies to this task's later attempts.
    """

    __slots__ = ("_at", "_spec", "_task", "buffer", "retry")

    def __init__(self, spec: TaskSpec, task: Registered) -> None:
        self._spec = spec
        self._task = task
        self._at: When | None = spec.at
        self.buffer: dict[Any, Any] = dict(spec.buffer)
        self.retry: RetryPolicy | None = spec.retry

    @property
    def id(self) -> str:
        """The task id, the same for every attempt."""
        return self._spec.task_id

    @property
    def attempt(self) -> int:
        """This run's number, from 1."""
        return self._spec.attempt

    @property
    def at(self) -> When | None:
        """When this attempt was scheduled for (unix seconds), or what was set for the next send.

        Setting it (unix seconds, a datetime or a timedelta from then) schedules the sends made by
        calling this object, as in 0.7.3.
        """
        return self._at

    @at.setter
    def at(self, when: When | None) -> None:
        if when is not None:
            unix_time(when)  # refuse a bad value now, not at the send
        self._at = when

    def _overrides(self) -> TaskOptionsDict:
        """The options changed during the run, for a send made by calling this object."""
        changed: TaskOptionsDict = {}
        if self._at is not self._spec.at:
            changed["at"] = self._at
        if self.retry is not self._spec.retry:
            changed["retry"] = self.retry
        return changed

    @property
    def spec(self) -> TaskSpec:
        return self._spec

    @property
    def task(self) -> Task[Any, Any]:
        return cast("Task[Any, Any]", self._task)  # the registry holds only Tasks

    @property
    def retry_count(self) -> int:
        """Runs left, this one included (0.7.3's meaning); 1 when no retry is configured."""
        max_attempts = self.retry.max_attempts if self.retry else 1
        return max(max_attempts - self.attempt + 1, 1)

    @retry_count.setter
    def retry_count(self, count: int) -> None:
        policy = self.retry or RetryPolicy.from_legacy(None, None)
        self.retry = attrs.evolve(policy, max_attempts=max(self.attempt - 1 + count, 1))

    @property
    def retry_timeout(self) -> float:
        """Seconds before the next retry (0.7.3's meaning)."""
        return self.retry.delay_for(self.attempt) if self.retry else 0.0

    @retry_timeout.setter
    def retry_timeout(self, timeout: float | timedelta) -> None:
        policy = self.retry or RetryPolicy.from_legacy(None, None)
        self.retry = attrs.evolve(policy, delay=timeout, backoff=1.0)

    def __call__(self, *args: Any, **kwargs: Any) -> TaskHandle[Any]:
        """Send this task again with new arguments and the current buffer (0.7.3's chaining)."""
        overrides = self._overrides()
        again = self.task.options(**overrides) if overrides else self.task
        return again._send(again.config.executor, args, kwargs, buffer=self.buffer)

    def __repr__(self) -> str:
        return f"<CurrentTask {self._spec.function} id={self.id} attempt={self.attempt}>"


_current: contextvars.ContextVar[CurrentTask | None] = contextvars.ContextVar(
    "uwsgi_tasks_current", default=None
)


def get_current_task() -> CurrentTask | None:
    """The task running in this context, or None outside a task.

    Works at any depth below the task function, in the spooler, a mule or in place. A thread started
    by the task sees it only if started with the task's context
    (``contextvars.copy_context().run``), as for any context variable.
    """
    return _current.get()


def enter(current: CurrentTask) -> contextvars.Token[CurrentTask | None]:
    """Make *current* the running task; `leave` with the token undoes it."""
    return _current.set(current)


def leave(token: contextvars.Token[CurrentTask | None]) -> None:
    _current.reset(token)
