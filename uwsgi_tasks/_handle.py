"""TaskHandle[R]: a futures-like view of a sent task, whose status is read from the world.

A handle holds ids, not state: the task id, the spool file of the attempt it last saw, and where
outcomes are recorded. Every question it answers is read again from the spool directory and the
result store, so the same handle works in any process that can see them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar, cast

from . import _codec, _locks, _spoolfiles, _uwsgi
from ._exceptions import ResultTimeout, ResultUnavailable, TaskCancelled, TaskFailed
from ._options import TaskExecutor
from ._outcomes import _observe, _writer
from ._outcomes._model import ErrorInfo, Outcome, TaskStatus, checked_id
from ._outcomes._store import ResultStore
from ._outcomes._where import at_location, location, shared, store_for

logger = logging.getLogger("uwsgi_tasks")

# A handle only gives its result out, so a TaskHandle[int] is a TaskHandle[object].
R_co = TypeVar("R_co", covariant=True)

# Waiting polls the store's version (one stat) from 1 ms, backing off to 20 ms: quick for short tasks,
# about 50 cheap wake-ups a second for long ones.
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.02


class TaskHandle(Generic[R_co]):
    """A task that was sent (or run in place), and what became of it.

    *id* is the task id (the same for every attempt); *spool_file* is the spool file of the attempt
    the handle last saw, or None when there is none (done, a mule task, in place); *pickled* names the
    arguments that were sent as signed pickles rather than JSON.
    """

    __slots__ = (
        "_attempt",
        "_error",
        "_executor",
        "_function",
        "_id",
        "_outcome",
        "_pickled",
        "_silent",
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
        silent: bool = False,
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
        self._silent = silent  # store_result=False: a success leaves no record (see _outcomes._observe)

    @classmethod
    def from_id(cls, task_id: str, spool_dir: str | os.PathLike[str] | None = None) -> TaskHandle[Any]:
        """Rebuild the handle of task *task_id* sent to *spool_dir* (by default, this instance's first
        spooler). Works in any process that can read the directory; finding a task that has not run
        yet reads the spool files, so it costs more on a long queue.

        Without a spool directory here but with a shared result store (``configure(result_store=)``),
        the handle follows the task through the store alone: a task sent to another host.
        """
        if spool_dir is None:
            dirs = _uwsgi.spooler_dirs()
            if not dirs:
                everywhere = shared()
                if everywhere is None:
                    raise TypeError(
                        "from_id() needs spool_dir= (or a shared result store) outside a uWSGI instance "
                        "with a spooler"
                    )
                checked_id(task_id)
                return cls(task_id, function="", executor=TaskExecutor.SPOOLER, store=everywhere)
            spool_dir = dirs[0]
        directory = os.fspath(spool_dir)
        _spoolfiles.check_spool_dir(directory)
        store = store_for(directory)
        record = store.get(task_id)
        entry = None if record is not None and record.status.done else _spoolfiles.find(directory, task_id)
        function = str(entry.spec.get("function", "")) if entry is not None and entry.spec else ""
        path = entry.path if entry is not None else None
        return cls(task_id, function=function, executor=TaskExecutor.SPOOLER, spool_file=path, store=store)

    @classmethod
    def _sent(
        cls,
        out: _codec.Outgoing,
        executor: TaskExecutor,
        store: ResultStore | None,
        spool_file: str | None = None,
    ) -> TaskHandle[Any]:
        """The handle of *out*, just handed to *executor* (in *spool_file*, if it is one)."""
        # Every send makes one: the slots are set directly, as keyword arguments cost more than
        # the rest of making a handle (tests pin that this equals the __init__ made handle).
        handle = object.__new__(cls)
        handle._id = out.task_id
        handle._function = out.function
        handle._executor = executor
        handle._spool_file = spool_file
        handle._attempt = out.attempt
        handle._pickled = out.pickled
        handle._outcome = None
        handle._error = None
        handle._store = store
        handle._silent = not out.store_result
        return handle

    @property
    def id(self) -> str:
        return self._id

    @property
    def function(self) -> str:
        """The task's ``module:qualname`` (empty if a rebuilt handle could not see it)."""
        return self._function

    @property
    def executor(self) -> TaskExecutor:
        """Where the task was sent: SPOOLER, MULE or RUNTIME (in place)."""
        return self._executor

    @property
    def spool_file(self) -> str | None:
        return self._spool_file

    @property
    def pickled(self) -> tuple[str, ...]:
        return self._pickled

    def refresh(self) -> TaskHandle[R_co]:
        """Look at the world again, following retries to the current attempt's spool file."""
        self._observe()
        return self

    def _observe(self) -> _observe.Observation:
        if self._outcome is not None:
            return _observe.Observation(self._outcome.status, self._outcome.attempts, None, self._outcome)
        seen = _observe.observe(self._id, self._store, self._spool_file, self._attempt, silent=self._silent)
        if seen.record is not None and seen.record.status.done:
            self._outcome = seen.record  # final: it never changes again
        elif seen.status is TaskStatus.SUCCEEDED:  # a silent success: no record, no value
            now = time.time()
            self._outcome = Outcome(self._id, TaskStatus.SUCCEEDED, seen.attempt, now, now)
        self._attempt = seen.attempt
        if seen.spool_file is not None or seen.status.done:
            self._spool_file = seen.spool_file
        return seen

    @property
    def status(self) -> TaskStatus:
        """Where the task is now, read from the world on every access."""
        return self._observe().status

    @property
    def attempt(self) -> int:
        """The attempt this handle last saw: 1 for the first run."""
        return self._observe().attempt

    def done(self) -> bool:
        """Whether the task succeeded, failed or was cancelled."""
        return self.status.done

    def running(self) -> bool:
        return self.status is TaskStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status is TaskStatus.CANCELLED

    def cancel(self) -> bool:
        """Remove the task before it runs: True if it will never run, False if it is running, done,
        or not in a spool file (a mule task can't be taken back).

        The spooler's own lock is taken first, so the task can't start while it is being removed.
        """
        seen = self._observe()
        path = seen.spool_file
        if seen.status.done or path is None or self._store is None or not _codec.is_spool_file(path):
            return False
        now = time.time()
        error = ErrorInfo("uwsgi_tasks.TaskCancelled", "cancelled before it ran")
        try:
            with _locks.locked(path) as held:
                if held is None:
                    return False
                # Recorded first, while the lock keeps the spooler off: a task is never gone unrecorded.
                cancelled = Outcome(self._id, TaskStatus.CANCELLED, seen.attempt, now, now, error=error)
                _writer.write(self._store, cancelled)
                _locks.remove_locked(path, held)
        except FileNotFoundError:
            return False
        self._spool_file = None
        return True

    @property
    def outcome(self) -> Outcome | None:
        """What became of the task once it is done: status, attempts, times, and its value or error.
        None until then. Read from the world until it is done; it never changes after that."""
        return self._final()

    def _final(self) -> Outcome | None:
        if self._outcome is None and self._silent:
            self._observe()  # a silent success shows only as its spool file being gone
        elif self._outcome is None and self._store is not None:
            record = self._store.get(self._id)
            if record is not None and record.status.done:
                self._outcome = record
        return self._outcome

    def _check_observable(self) -> None:
        if self._outcome is not None:
            return
        if self._store is None:
            raise ResultUnavailable(
                f"task {self._id}: its outcome is recorded nowhere this process can read (outcomes "
                "of mule tasks are recorded in the instance's first spooler directory; it has none)"
            )
        if self._silent and self._spool_file is None:
            raise ResultUnavailable(
                f"task {self._id}: a mule task with store_result=False records nothing, so its outcome "
                "can't be observed"
            )

    def _poll(self, seen: object) -> tuple[Outcome | None, object]:
        """The outcome if it is recorded now, and the store's version it was looked for at: records
        are read again only when the version moved since *seen* (one stat), or for a silent task."""
        version = self._store.version() if self._store is not None else None
        if version != seen or self._silent:
            return self._final(), version
        return None, seen

    def _wait(self, timeout: float | None) -> Outcome:
        self._check_observable()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause, seen = _FIRST_POLL, object()
        while True:
            final, seen = self._poll(seen)
            if final is not None:
                return final
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ResultTimeout(f"task {self._id} not done within {timeout} s ({self.status.value})")
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, _LONGEST_POLL)

    def _unwrap(self, outcome: Outcome) -> R_co:
        try:
            outcome.raise_for_status()
        except TaskFailed as e:
            raise e from self._error
        return cast(R_co, outcome.value)

    def result(self, timeout: float | None = None) -> R_co:
        """The task's return value, waiting up to *timeout* seconds (None: as long as it takes).

        A task that returned None gives None. Raises `TaskFailed` (with the remote error's type,
        message and traceback) if it failed, `TaskCancelled` if it was cancelled, `ResultTimeout` if
        it is not done in time.
        """
        return self._unwrap(self._wait(timeout))

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

    def add_done_callback(self, callback: Callable[[TaskHandle[R_co]], object]) -> None:
        """Call *callback(handle)* once the task is done: at once if it is, otherwise from a
        background thread of this process that watches the result store."""
        self._check_observable()
        if self._final() is not None:
            callback(self)
        else:
            _watcher.add(self, callback)

    async def _wait_async(self) -> R_co:
        self._check_observable()
        pause, seen = _FIRST_POLL, object()
        while True:
            final, seen = self._poll(seen)
            if final is not None:
                return self._unwrap(final)
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_POLL)

    def __await__(self) -> Generator[Any, None, R_co]:
        """``await handle`` gives the result (or raises) without blocking the event loop."""
        return self._wait_async().__await__()

    def __repr__(self) -> str:
        return f"<TaskHandle {self._function} id={self._id} {self.status.value}>"


class _Watcher:
    """One background thread per process that calls done-callbacks, started when one is waiting and
    gone when none is."""

    _INTERVAL = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[TaskHandle[Any], Callable[[Any], object]]] = []
        self._thread: threading.Thread | None = None

    def add(self, handle: TaskHandle[Any], callback: Callable[[Any], object]) -> None:
        with self._lock:
            self._waiting.append((handle, callback))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="uwsgi_tasks-callbacks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._INTERVAL)
            with self._lock:
                pending = list(self._waiting)
            for entry in pending:
                handle, callback = entry
                if handle._final() is None:
                    continue
                with self._lock:
                    self._waiting.remove(entry)
                try:
                    callback(handle)
                except Exception:
                    logger.exception("done callback of task %s raised", handle.id)
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return


_watcher = _Watcher()


def _to_ref(handle: TaskHandle[Any]) -> _codec.HandleRef:
    return _codec.HandleRef(
        handle.id,
        handle.function,
        handle.executor,
        handle.spool_file,
        handle._attempt,
        location(handle._store),
        handle._silent,
    )


def _from_ref(ref: _codec.HandleRef) -> TaskHandle[Any]:
    """A handle that travelled as a value (the codec checked it as hostile input)."""
    return TaskHandle(
        ref.task_id,
        function=ref.function,
        executor=ref.executor,
        spool_file=ref.spool_file,
        attempt=ref.attempt,
        store=at_location(ref.store),
        silent=ref.silent,
    )


# A task may return a handle (chaining: "return current_task(next_file)"): it travels as its ids.
_codec.register_handle(TaskHandle, _to_ref, _from_ref)
