"""Handing a task to this instance's spooler: ``uwsgi.spool()`` into a checked spool directory, then a
wake-up for a busy spooler (see `_wake`)."""

from __future__ import annotations

import logging
import os
from typing import Any

from .. import _codec, _uwsgi, _wake
from .._exceptions import ConfigurationError, ExecutorUnavailable, SpoolError
from .._handle import TaskHandle
from .._options import TaskExecutor
from .._outcomes._where import store_for

logger = logging.getLogger("uwsgi_tasks")


def directory_for(function: str, spooler: str | None, priority: int | None) -> str:
    """The spooler directory a task goes to, checked against this instance's configuration."""
    dirs = _uwsgi.spooler_dirs()
    if not dirs:
        raise ExecutorUnavailable(f"{function}: this uWSGI instance has no spooler (--spooler)")
    if priority is not None and not _uwsgi.flag("spooler-ordered"):
        raise ConfigurationError(
            f"{function}: priority= needs --spooler-ordered; without it uWSGI never runs "
            "prioritised tasks (it does not scan the priority directories)"
        )
    if spooler is None:
        return dirs[0]
    wanted = os.path.realpath(spooler)
    if wanted not in dirs:
        raise ConfigurationError(
            f"{function}: spooler={spooler!r} is not a spooler of this instance; "
            f"its spoolers are {', '.join(dirs)}"
        )
    return wanted


def spool(out: _codec.Outgoing, directory: str) -> TaskHandle[Any]:
    """Write *out* as a spool file of *directory* and wake a busy spooler; the handle knows the file."""
    try:
        path = _uwsgi.spool(_codec.spool_message(out))
    except ValueError as e:
        raise SpoolError(f"uWSGI refused to spool task {out.task_id} ({out.function}): {e}") from e
    _wake.after_spool(directory)
    if out.pickled:
        logger.debug("task %s (%s): pickled %s", out.task_id, out.function, ", ".join(out.pickled))
    return TaskHandle._sent(out, TaskExecutor.SPOOLER, store_for(directory), path)
