"""Typed background tasks for uWSGI: the spooler, mules, or in place; timers and cron on signals.

Quick start:

    from uwsgi_tasks import task

    @task
    def send_email(to: str, subject: str) -> None: ...

    handle = send_email.spool("a@example.com", "Hi")   # TaskHandle[None]
    handle.status, handle.spool_file

Every name below is public; everything in a ``_module`` is private.
"""

from ._config import configure
from ._context import CurrentTask, get_current_task
from ._exceptions import (
    ConfigurationError,
    DecodeError,
    EncodeError,
    ExecutorUnavailable,
    Ignore,
    ProcessDied,
    ResultError,
    ResultTimeout,
    ResultUnavailable,
    Retry,
    RetryTaskException,
    SerializationError,
    SpoolError,
    TaskCancelled,
    TaskFailed,
    TaskNotFound,
    UwsgiTasksError,
)
from ._handle import TaskHandle
from ._options import TaskExecutor, TaskOptionsDict
from ._outcomes._model import ErrorInfo, Outcome, TaskStatus
from ._periodic import (
    CronTask,
    SignalTask,
    TimerTask,
    cron,
    cron_lazy,
    rbtimer,
    rbtimer_lazy,
    signal,
    timer,
    timer_lazy,
)
from ._retry import Jitter, RetryPolicy
from ._run._hooks import set_uwsgi_callbacks
from ._targets import Remote, SpoolDirectory
from ._task import Task, TaskDecorator, task
from ._uwsgi import SPOOL_IGNORE, SPOOL_OK, SPOOL_RETRY
from .contrib.django import django_setup

__all__ = [
    "ConfigurationError",
    "configure",
    "cron",
    "cron_lazy",
    "CronTask",
    "CurrentTask",
    "DecodeError",
    "django_setup",
    "EncodeError",
    "ErrorInfo",
    "ExecutorUnavailable",
    "get_current_task",
    "Ignore",
    "Jitter",
    "Outcome",
    "ProcessDied",
    "rbtimer",
    "rbtimer_lazy",
    "Remote",
    "ResultError",
    "ResultTimeout",
    "ResultUnavailable",
    "Retry",
    "RetryPolicy",
    "RetryTaskException",
    "SerializationError",
    "set_uwsgi_callbacks",
    "signal",
    "SignalTask",
    "SPOOL_IGNORE",
    "SPOOL_OK",
    "SPOOL_RETRY",
    "SpoolDirectory",
    "SpoolError",
    "Task",
    "task",
    "TaskCancelled",
    "TaskDecorator",
    "TaskExecutor",
    "TaskFailed",
    "TaskHandle",
    "TaskNotFound",
    "TaskOptionsDict",
    "TaskStatus",
    "timer",
    "timer_lazy",
    "TimerTask",
    "UwsgiTasksError",
]


# Public classes say where users import them from: tracebacks read ``uwsgi_tasks.EncodeError`` and
# a task failure records ``uwsgi_tasks.TaskNotFound``, not the private module.
def _claim_public_classes() -> None:
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) and obj.__module__.startswith(f"{__name__}."):
            obj.__module__ = __name__


_claim_public_classes()


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("uwsgi-tasks")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# 0.7.3 installed its callbacks at import; so do we (a no-op outside uWSGI).
set_uwsgi_callbacks()
