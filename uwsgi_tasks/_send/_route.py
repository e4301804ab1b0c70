"""Routing a task: which executor runs it (`choose`), the `Route` it takes to get there, its spec
(`new_spec`), and the hot path that sends it along a route (`send`)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .. import _codec, _uwsgi
from .._exceptions import ExecutorUnavailable
from .._handle import TaskHandle
from .._options import CALLER_CWD, TaskExecutor, TaskOptions
from .._spec import TaskSpec, new_task_id, unix_time
from .._targets import Remote, SpoolDirectory, spooler_dir
from . import _beyond, _mule, _spool


class InPlaceMode(Protocol):
    """What `uwsgi_tasks.testing.InPlace` sets while it is active (see `forced`)."""

    raise_failures: bool

    def sent(self, handle: TaskHandle[Any]) -> None: ...


#: While set, every task is run in place, whatever its executor and wherever it is sent from.
forced: InPlaceMode | None = None


def new_spec(
    path: str,
    config: TaskOptions,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    buffer: Mapping[Any, Any] | None = None,
) -> TaskSpec:
    """The spec of a new task *path* sent with *config*, *args* and *kwargs*."""
    return TaskSpec(
        function=path,
        task_id=new_task_id(),
        enqueued_at=time.time(),
        args=args,
        kwargs=kwargs,
        at=None if config.at is None else unix_time(config.at),
        priority=config.priority,
        spooler=spooler_dir(config.spooler),
        working_dir=_caller_cwd(config.spooler) if config.working_dir is CALLER_CWD else config.working_dir,
        retry=config.retry,
        spooler_return=config.spooler_return,
        store_result=config.store_result,
        buffer=buffer or {},
    )


def _caller_cwd(spooler: str | Remote | SpoolDirectory | None) -> str | None:
    """The default working_dir: where the caller is, unless the task runs on another host."""
    return None if isinstance(spooler, Remote) else os.getcwd()


def in_place(requested: TaskExecutor) -> bool:
    """Whether a task sent here and now with *requested* runs in place: outside uWSGI, as RUNTIME,
    or while `uwsgi_tasks.testing.InPlace` is active."""
    return not _uwsgi.RUNNING or requested is TaskExecutor.RUNTIME or forced is not None


def choose(requested: TaskExecutor, path: str, config: TaskOptions) -> TaskExecutor:
    """The executor that will run task *path* (sent with *config*) in this process's uWSGI instance.

    Outside uWSGI everything runs in place. Inside, an explicit executor the instance lacks is an
    error (0.7.3 silently fell back, losing ``at``, retries and durability).
    """
    if requested is TaskExecutor.RUNTIME or forced is not None:
        return TaskExecutor.RUNTIME
    if isinstance(config.spooler, Remote | SpoolDirectory):  # any process can send beyond this instance
        if requested is TaskExecutor.MULE:
            raise ExecutorUnavailable(f"{path}: spooler={config.spooler!r} is a spooler, not a mule")
        return TaskExecutor.SPOOLER
    if not _uwsgi.RUNNING:
        return TaskExecutor.RUNTIME
    needs_spooler = config.at is not None or config.priority is not None or config.spooler is not None
    if requested is TaskExecutor.SPOOLER or (requested is TaskExecutor.AUTO and needs_spooler):
        if not _uwsgi.has_spooler():
            wants = "at=/priority=/spooler=" if requested is TaskExecutor.AUTO else "executor=SPOOLER"
            raise ExecutorUnavailable(
                f"{path}: {wants} needs a spooler; this uWSGI instance has none (--spooler)"
            )
        return TaskExecutor.SPOOLER
    if requested is TaskExecutor.MULE:
        if needs_spooler:
            raise ExecutorUnavailable(
                f"{path}: at=/priority=/spooler= only work with the spooler, not a mule"
            )
        if _uwsgi.mule_count() == 0:
            raise ExecutorUnavailable(
                f"{path}: executor=MULE needs mules; this uWSGI instance has none (--mules)"
            )
        return TaskExecutor.MULE
    if _uwsgi.has_spooler():
        return TaskExecutor.SPOOLER
    if _uwsgi.mule_count() > 0:
        return TaskExecutor.MULE
    return TaskExecutor.RUNTIME


@attrs.frozen
class ThisSpooler:
    """This instance's spooler, writing into *directory* (checked against the configuration)."""

    directory: str


@attrs.frozen
class AMule:
    """A mule or farm of this instance: the one in the task's options, or any mule."""


#: Where a route leads: this instance's spooler or mules, or a spooler beyond the instance.
Destination = ThisSpooler | AMule | Remote | SpoolDirectory


@attrs.frozen
class Route:
    """How a task is sent with one requested executor: its fixed fields encoded once (*template*) and
    where it goes. Made once per task and requested executor: `choose`'s answer can't change while the
    process lives (uWSGI's configuration is fixed), except under `forced`, which bypasses routes."""

    template: _codec.Template
    destination: Destination

    @classmethod
    def make(cls, path: str, config: TaskOptions, executor: TaskExecutor) -> Route:
        """The route of task *path*, sent with *config* to *executor* (SPOOLER or MULE)."""
        destination: Destination = AMule()
        if executor is TaskExecutor.SPOOLER:
            target = config.spooler
            if isinstance(target, Remote | SpoolDirectory):
                destination = target
            else:
                destination = ThisSpooler(_spool.directory_for(path, target, config.priority))
        to_spooler = not isinstance(destination, AMule)
        prototype = TaskSpec(
            function=path,
            task_id="",
            enqueued_at=0.0,
            priority=config.priority if to_spooler else None,
            spooler=_spooler_of(destination) if config.spooler is not None else None,
            mule=None if to_spooler else config.mule,
            retry=config.retry,
            spooler_return=config.spooler_return,
            store_result=config.store_result,
        )
        return cls(_codec.Template(prototype), destination)

    def send(self, config: TaskOptions, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> TaskHandle[Any]:
        """Send a new task along this route: the hot path of every ``.spool()`` and ``.mule()``."""
        destination = self.destination
        working_dir = config.working_dir
        if working_dir is CALLER_CWD:  # the caller's directory means nothing on another host
            working_dir = None if isinstance(destination, Remote) else os.getcwd()
        out = self.template.outgoing(
            new_task_id(),
            time.time(),
            working_dir,
            None if config.at is None else unix_time(config.at),
            args,
            kwargs,
        )
        if isinstance(destination, ThisSpooler):
            return _spool.spool(out, destination.directory)
        if isinstance(destination, AMule):
            return _mule.deliver(out)
        return _beyond.send(destination, out)


def _spooler_of(destination: Destination) -> str | None:
    if isinstance(destination, ThisSpooler):
        return destination.directory
    if isinstance(destination, AMule):
        return None
    return spooler_dir(destination)
