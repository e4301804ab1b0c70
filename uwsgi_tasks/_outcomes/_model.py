"""What became of a task: its status, and the outcome record the executing side leaves (data only:
the codec encodes it, the stores keep it, `_writer` writes it)."""

from __future__ import annotations

import enum
import traceback
from typing import Any

import attrs

from .._exceptions import TaskCancelled, TaskFailed


class TaskStatus(enum.Enum):
    """Where a task is, as read from the world (spool file, its lock, the outcome record).

    UNKNOWN means nothing was found: never "probably still pending".
    """

    SCHEDULED = "scheduled"  #: spooled, with a start time in the future
    QUEUED = "queued"  #: spooled, waiting for a spooler
    RUNNING = "running"  #: a spooler or mule is running it
    RETRYING = "retrying"  #: an attempt failed and a later one is scheduled
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  #: cancelled before it ran, or dropped by the task raising `Ignore`
    UNKNOWN = "unknown"

    @property
    def done(self) -> bool:
        return self in _DONE


_DONE = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})


@attrs.frozen
class ErrorInfo:
    """An exception as data: it crosses processes as text, never as a pickled object."""

    type_path: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorInfo:
        kind = type(error)
        return cls(
            type_path=f"{kind.__module__}.{kind.__qualname__}",
            message=str(error),
            traceback="".join(traceback.format_exception(kind, error, error.__traceback__)),
        )

    def to_exception(self) -> TaskFailed:
        return TaskFailed(self.type_path, self.message, self.traceback)


@attrs.frozen(slots=False)  # made for every run: see TaskSpec for why not slots
class Outcome:
    """The recorded end of a task (or of its last attempt, for RETRYING).

    *value* is meaningful only when *has_value* is true: a task that returned None has a value.
    """

    task_id: str
    status: TaskStatus
    attempts: int
    started_at: float
    finished_at: float
    value: Any = None
    has_value: bool = False
    error: ErrorInfo | None = None
    #: For RETRYING: the spool file of the next attempt, when there is one.
    next_spool_file: str | None = None
    #: For SCHEDULED (a task sent to another host): the unix second it may start.
    at: int | None = None

    def for_store(self, keep_value: bool) -> Outcome:
        """This outcome as recorded: without its value when the task has ``store_result=False``."""
        if keep_value or not self.has_value:
            return self
        return attrs.evolve(self, value=None, has_value=False)

    def failed_by(self, error: BaseException) -> Outcome:
        """This outcome turned FAILED by *error*, without a value: a success whose value can't be
        stored or sent back is a failure, not a silent loss of the value."""
        return attrs.evolve(
            self, status=TaskStatus.FAILED, value=None, has_value=False, error=ErrorInfo.from_exception(error)
        )

    def raise_for_status(self) -> None:
        """Raise `TaskFailed` or `TaskCancelled` unless the task succeeded."""
        if self.status is TaskStatus.FAILED:
            raise (self.error or ErrorInfo("uwsgi_tasks.TaskFailed", "failed")).to_exception()
        if self.status is TaskStatus.CANCELLED:
            message = self.error.message if self.error else "cancelled before it ran"
            raise TaskCancelled(f"task {self.task_id} was cancelled: {message}")


def checked_id(task_id: str) -> str:
    """*task_id*, if it is one (ASCII letters and digits); ValueError otherwise. Ids name files and
    keys, so nothing else gets that far."""
    if not task_id or not task_id.isalnum() or not task_id.isascii():
        raise ValueError(f"not a task id: {task_id!r}")
    return task_id
