"""TaskHandle[R]: a futures-like view of a sent task, whose status is read from the world."""

from __future__ import annotations

import os
import time
from typing import Any, Generic, TypeVar, cast

from . import _codec
from ._exceptions import ConfigurationError, ResultTimeout, TaskCancelled, TaskFailed
from ._options import TaskExecutor
from ._outcome import Outcome, TaskStatus
from ._results import IN_PROCESS, FileResultStore, ResultStore

R = TypeVar("R")

# Polling backs off from 2 ms to 100 ms: quick for short tasks, cheap for long ones.
_FIRST_POLL = 0.002
_LONGEST_POLL = 0.1


class TaskHandle(Generic[R]):
    """A task that was sent (or run in place), and what became of it.

    *id* is the task id (the same for every attempt); *spool_file* the path of the current attempt's
    spool file, or None when the task did not go through the spooler; *pickled* names the arguments
    that had to be sent as signed pickles rather than JSON.
    """

    __slots__ = (
        "_attempt",
        "_error",
        "_executor",
        "_function",
        "_id",
        "_outcome",
        "_pickled",
        "_spool_file",
        "_store",
    )

    def __init__(
        self,
        task_id: str,
        *,
        function: str,
        executor: TaskExecutor,
        spool_file: str | None = None,
        attempt: int = 1,
        pickled: tuple[str, ...] = (),
        outcome: Outcome | None = None,
        error: BaseException | None = None,
        store: ResultStore | None = None,
    ) -> None:
        self._id = task_id
        self._function = function
        self._executor = executor
        self._spool_file = spool_file
        self._attempt = attempt
        self._pickled = pickled
        self._outcome = outcome
        self._error = error
        self._store = store

    @property
    def id(self) -> str:
        return self._id

    @property
    def function(self) -> str:
        """The task's ``module:qualname``."""
        return self._function

    @property
    def executor(self) -> TaskExecutor:
        """Where the task was sent: SPOOLER, MULE or RUNTIME (in place)."""
        return self._executor

    @property
    def spool_file(self) -> str | None:
        return self._spool_file

    @property
    def attempt(self) -> int:
        """The attempt this handle last saw: 1 for the first run."""
        if self._outcome is not None:
            return self._outcome.attempts
        return self._attempt

    @property
    def pickled(self) -> tuple[str, ...]:
        return self._pickled

    def _record(self) -> Outcome | None:
        """The outcome record, if any; a final one is kept, since it never changes."""
        if self._outcome is not None or self._store is None:
            return self._outcome
        record = self._store.get(self._id)
        if record is not None and record.status.done:
            self._outcome = record
        return record

    @property
    def status(self) -> TaskStatus:
        """Where the task is now, read from the world on every access."""
        record = self._record()
        if record is not None and record.status.done:
            return record.status
        retrying = record is not None and record.status is TaskStatus.RETRYING
        path = record.next_spool_file if record is not None and retrying else self._spool_file
        if path is not None:
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                pass
            else:
                if retrying:
                    return TaskStatus.RETRYING
                return TaskStatus.SCHEDULED if mtime > time.time() else TaskStatus.QUEUED
        return record.status if record is not None else TaskStatus.UNKNOWN

    def done(self) -> bool:
        """Whether the task succeeded, failed or was cancelled."""
        return self.status.done

    def _wait(self, timeout: float | None) -> Outcome:
        if self._store is None and self._outcome is None:
            raise ConfigurationError(
                f"task {self._id}: its outcome is recorded nowhere this process can read (outcomes "
                "of mule tasks are recorded in the instance's first spooler directory; it has none)"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            record = self._record()
            if record is not None and record.status.done:
                return record
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ResultTimeout(
                    f"task {self._id} did not finish within {timeout} s (status: {self.status.value})"
                )
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, _LONGEST_POLL)

    def result(self, timeout: float | None = None) -> R:
        """The task's return value, waiting up to *timeout* seconds (None: as long as it takes).

        Raises `TaskFailed` (with the remote error's type, message and traceback) if the task failed,
        `TaskCancelled` if it was cancelled, `ResultTimeout` if it is not done in time.
        """
        outcome = self._wait(timeout)
        try:
            outcome.raise_for_status()
        except TaskFailed as e:
            raise e from self._error
        return cast(R, outcome.value)

    def exception(self, timeout: float | None = None) -> TaskFailed | None:
        """The task's failure as a `TaskFailed`, or None if it succeeded; waits like `result`.

        Raises `TaskCancelled` if it was cancelled.
        """
        outcome = self._wait(timeout)
        try:
            outcome.raise_for_status()
        except TaskFailed as e:
            return e
        except TaskCancelled:
            raise
        return None

    def __repr__(self) -> str:
        return f"<TaskHandle {self._function} id={self._id} {self.status.value}>"


def _handle_to_json(handle: TaskHandle[Any]) -> list[Any]:
    store = handle._store
    where = store.spool_dir if isinstance(store, FileResultStore) else None if store is None else ""
    return [handle.id, handle.function, handle.executor.name, handle.spool_file, handle.attempt, where]


def _handle_from_json(tree: Any) -> TaskHandle[Any]:
    task_id, function, executor, spool_file, attempt, store = tree
    return TaskHandle(
        task_id,
        function=function,
        executor=TaskExecutor[executor],
        spool_file=spool_file,
        attempt=attempt,
        store=None if store is None else FileResultStore(store) if store else IN_PROCESS,
    )


# A task may return a handle (chaining: "return current_task(next_file)"): it travels as its ids.
_codec.register_type(TaskHandle, "$handle", _handle_to_json, _handle_from_json)
