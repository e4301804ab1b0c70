"""0.7.3 compatibility: the names code imported from ``uwsgi_tasks.tasks``.

New code imports from ``uwsgi_tasks``. ``manage_spool_request`` and ``manage_mule_request`` are the
spooler callable and the mule hook that `set_uwsgi_callbacks` installs.
"""

from __future__ import annotations

import logging
from typing import Any

from ._context import get_current_task
from ._exceptions import RetryTaskException
from ._options import TaskExecutor
from ._periodic import CronTask, SignalTask, TimerTask
from ._run._hooks import mule_hook as manage_mule_request
from ._run._hooks import set_uwsgi_callbacks
from ._run._hooks import spooler as manage_spool_request
from ._task import Task
from ._uwsgi import SPOOL_IGNORE, SPOOL_OK, SPOOL_RETRY
from .utils import ProxyDict

logger: logging.Logger = logging.getLogger("uwsgi_tasks")


class MuleTask:
    """0.7.3's mule task, kept so that mule messages 0.7.3 pickled still load when trusted
    (``configure(trust_legacy_pickles=True)``); only its state is read."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


__all__ = [
    "CronTask",
    "get_current_task",
    "logger",
    "manage_mule_request",
    "manage_spool_request",
    "MuleTask",
    "ProxyDict",
    "RetryTaskException",
    "set_uwsgi_callbacks",
    "SignalTask",
    "SPOOL_IGNORE",
    "SPOOL_OK",
    "SPOOL_RETRY",
    "Task",
    "TaskExecutor",
    "TimerTask",
]
