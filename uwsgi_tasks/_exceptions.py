"""Every exception uwsgi_tasks raises, and the control-flow signals a task may raise.

Errors (something went wrong) share one base; control flow (a task asking for a retry, or to be
dropped) does not, so ``except UwsgiTasksError`` never swallows a retry request:

    UwsgiTasksError
    ├── ConfigurationError          the uWSGI instance can't do what was asked (no ordered spooler, ...)
    │   └── ExecutorUnavailable     an explicit SPOOLER/MULE executor this instance doesn't have
    ├── SerializationError
    │   ├── EncodeError             arguments can't be sent (also a TypeError): nothing was sent
    │   └── DecodeError             a spool file or mule message can't be read (also a ValueError)
    ├── SpoolError                  uWSGI refused the task or the mule message
    ├── TaskNotFound                a message names no importable @task (also a LookupError)
    ├── ProcessDied                 recorded when a task's process kept dying inside it
    └── ResultError                 asking a handle for the outcome didn't give a value
        ├── TaskFailed              the task raised; carries the remote error as data
        ├── TaskCancelled           the task was cancelled before it ran, or raised Ignore
        ├── ResultTimeout           no outcome within the timeout (also a TimeoutError)
        └── ResultUnavailable       the outcome is recorded nowhere this process can read (also a
                                    ConfigurationError, what was raised for it before)

    Retry                           raise inside a task: run it again later
    └── RetryTaskException          the 0.7.3 spelling, RetryTaskException(count=None, timeout=None)
    Ignore                          raise inside a task: drop it now, no retry

Misuse of the API (a non-callable decorated, an unknown option, a bad value) raises the matching
builtin: ``TypeError`` or ``ValueError``.
"""

from __future__ import annotations

from datetime import timedelta


class UwsgiTasksError(Exception):
    """Base class of every error raised by uwsgi_tasks."""


class ConfigurationError(UwsgiTasksError):
    """The uWSGI instance is not configured for what was asked."""


class ExecutorUnavailable(ConfigurationError):
    """An explicitly requested executor is not configured in this uWSGI instance."""


class SerializationError(UwsgiTasksError):
    """A task could not be encoded for, or decoded from, the wire."""


class EncodeError(SerializationError, TypeError):
    """The task's arguments can't be sent; nothing was sent."""


class DecodeError(SerializationError, ValueError):
    """A spool file or mule message is not a valid task."""


class SpoolError(UwsgiTasksError):
    """uWSGI refused to spool the task or to deliver the mule message."""


class TaskNotFound(UwsgiTasksError, LookupError):
    """A message names a function that can't be imported, or that is not decorated with `@task`."""


class ProcessDied(UwsgiTasksError):
    """The process running the task died inside it (SIGKILL, the OOM killer, a segfault, harakiri)
    as often as its attempts allow; the task's outcome records this error, and its file is set aside.
    """


class ResultError(UwsgiTasksError):
    """Base of the errors `TaskHandle.result` and its kin raise instead of returning a value."""


class ResultUnavailable(ResultError, ConfigurationError):
    """The task's outcome is recorded nowhere this process can read, so it can't be waited for: a
    mule task in an instance without a spooler directory, or a mule task with ``store_result=False``.
    Also a `ConfigurationError`, which is what was raised for it before this class existed.
    """


class TaskFailed(ResultError):
    """The task raised an exception where it ran.

    The exception crosses processes as data, never as a pickled object: *type_path* is the
    ``module.QualName`` of its class, *message* its ``str()``, *traceback* the formatted traceback.
    """

    def __init__(self, type_path: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_path}: {message}" if message else type_path)
        self.type_path = type_path
        self.message = message
        self.traceback = traceback


class TaskCancelled(ResultError):
    """The task was cancelled: before it ran (`TaskHandle.cancel`), or by raising `Ignore`."""


class ResultTimeout(ResultError, TimeoutError):
    """The task did not finish within the timeout."""


class Retry(Exception):
    """Raise inside a task to have it run again later.

    *delay* (seconds or a ``timedelta``) overrides the policy's delay for this retry;
    *max_attempts* overrides how many attempts the task has in all, counting the ones already made.
    """

    def __init__(
        self,
        message: str = "",
        *,
        delay: float | timedelta | None = None,
        max_attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.delay = delay
        self.max_attempts = max_attempts


class RetryTaskException(Retry):
    """The 0.7.3 spelling of `Retry`.

    *count* replaces the number of attempts the task has left (the current one included, as 0.7.3
    counted it) and *timeout* is the delay before the next attempt, in seconds or a ``timedelta``.
    """

    def __init__(self, count: int | None = None, timeout: int | timedelta | None = None) -> None:
        super().__init__(
            f"retry requested (count={count}, timeout={timeout})", delay=timeout, max_attempts=None
        )
        self.count = count
        self.timeout = timeout


class Ignore(Exception):
    """Raise inside a task to drop it now: no retry, and the outcome is recorded as CANCELLED, with
    this exception's message."""
