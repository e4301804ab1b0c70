"""Sending a spec as it is: a retry, a task not due yet, a mule task's retry come due, a task sent
again with its buffer, a task the command line builds. The spooler and the mules reschedule every
attempt through `send_spec` (in place, retries run at once, in a loop: there is nothing to send).

A mule has no ``at``: a mule task's delayed retry waits in the spooler when this instance has one
(which hands it back to a mule when due), else in a timer thread of this process (lost if the
process ends meanwhile, like any message in a mule's queue).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import attrs

from .. import _codec, _uwsgi
from .._handle import TaskHandle
from .._options import TaskExecutor
from .._outcomes._where import instance_store
from .._spec import TaskSpec
from .._targets import Remote, SpoolDirectory
from . import _beyond, _mule, _spool

logger = logging.getLogger("uwsgi_tasks")


def send_spec(spec: TaskSpec, beyond: Remote | SpoolDirectory | None = None) -> TaskHandle[Any]:
    """Send *spec* as it is, to *beyond* if given, else to its mule or this instance's spooler."""
    if beyond is not None:
        return _beyond.send(beyond, _codec.outgoing(spec))
    if spec.mule is not None and (spec.at is None or spec.at <= time.time() or not _uwsgi.has_spooler()):
        out = _codec.outgoing(attrs.evolve(spec, at=None))  # encoded once, whenever it is delivered
        wait = 0.0 if spec.at is None else spec.at - time.time()
        if wait <= 0:
            return _mule.deliver(out)
        timer = threading.Timer(wait, _deliver_later, (out,))
        timer.daemon = True
        timer.start()
        return TaskHandle._sent(out, TaskExecutor.MULE, instance_store())
    directory = _spool.directory_for(spec.function, spec.spooler, spec.priority)
    if spec.spooler is not None:
        spec = attrs.evolve(spec, spooler=directory)
    return _spool.spool(_codec.outgoing(spec), directory)


def _deliver_later(out: _codec.Outgoing) -> None:
    try:
        _mule.deliver(out)
    except Exception as e:
        logger.error("task %s: can't send its retry: %s", out.task_id, e)
