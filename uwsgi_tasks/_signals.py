"""uWSGI signals: target strings, signal numbers, and registering handlers where they work.

uWSGI runs a signal handler only in processes whose signal table has it. A handler registered in the
master before the fork is in every worker's table; one registered in a worker after the fork only in
that worker's, and mules and spoolers can't register at all (verified with uWSGI 2.0.31). So handlers are
registered in the master, at import; anywhere else a signal task is inert, and starting it there is an
error rather than a timer that silently never runs.
"""

from __future__ import annotations

import logging
import mmap
import re
from collections.abc import Callable
from typing import Final

from . import _uwsgi
from ._exceptions import ConfigurationError
from ._options import TaskExecutor

logger = logging.getLogger("uwsgi_tasks")

SIGNALS: Final = 256
#: uWSGI 2.0's MAX_TIMERS and MAX_CRONS: per instance, for timers, red-black timers and crons each.
TABLE_LIMIT: Final = 64

# The strings uWSGI's signal router accepts (uWSGI 2.0.31); anything else is only logged by uWSGI.
_TARGET = re.compile(r"(|worker|worker\d+|workers|active-workers|spooler|mule|mule\d+|mules|farm_.+|farm\d+)")
_TARGET_MAX = 63

_taken: set[int] = set()
# Which signal tasks were started, shared by every process forked from the master (one byte per
# signal), so that a lazy timer started from two workers is added once.
_started: mmap.mmap | None = None


def check_target(target: str) -> str:
    """*target* if uWSGI routes signals to it; ValueError otherwise."""
    if not isinstance(target, str):
        raise TypeError(f"a signal target is a str, not {target!r}")
    if len(target) > _TARGET_MAX or not _TARGET.fullmatch(target):
        raise ValueError(
            f"unknown signal target {target!r}: use '' or 'worker' (one worker), 'workerN', 'workers', "
            "'active-workers', 'spooler', 'mule' (one mule), 'muleN', 'mules', 'farm_<name>' or 'farmN'"
        )
    return target


def default_target(executor: TaskExecutor) -> str:
    """0.7.3's choice: a mule if there are mules, else the spooler, else a worker."""
    if _uwsgi.mule_count() and executor in (TaskExecutor.AUTO, TaskExecutor.MULE):
        return "mule"
    if _uwsgi.has_spooler() and executor in (TaskExecutor.AUTO, TaskExecutor.SPOOLER):
        return "spooler"
    return ""


def check_number(signum: int) -> int:
    if isinstance(signum, bool) or not isinstance(signum, int):
        raise TypeError(f"a signal number is an int, not {signum!r}")
    if not 0 <= signum < SIGNALS:
        # uWSGI parses it as an unsigned byte and silently wraps: 300 would be signal 44.
        raise ValueError(f"signal numbers are 0-255, not {signum}")
    return signum


def can_register() -> bool:
    """Whether this process may register handlers that every process will run: the master."""
    return _uwsgi.i_am_the_master()


def in_worker_after_fork() -> bool:
    return _uwsgi.RUNNING and _uwsgi.worker_id() > 0


def register(name: str, signum: int | None, target: str, handler: Callable[[int], object]) -> int:
    """Register *handler* for *signum* (or the first free number) in the master; the number."""
    global _started
    if signum is None:
        free = (n for n in range(1, SIGNALS) if n not in _taken and not _uwsgi.signal_registered(n))
        signum = next(free, None)
        if signum is None:
            raise ConfigurationError(
                f"{name}: no free uWSGI signal number (1-{SIGNALS - 1} are all registered)"
            )
    elif signum in _taken or _uwsgi.signal_registered(signum):
        raise ConfigurationError(f"{name}: uWSGI signal {signum} is already registered")
    try:
        _uwsgi.register_signal(signum, target, handler)
    except ValueError as e:
        raise ConfigurationError(f"{name}: uWSGI refused to register signal {signum}: {e}") from e
    _taken.add(signum)
    if _started is None:
        _started = mmap.mmap(-1, SIGNALS)
    return signum


def mark_started(signum: int) -> bool:
    """Record that the timer or cron on *signum* is started; False if it already was (anywhere)."""
    if _started is None:
        return True
    if _started[signum]:
        return False
    _started[signum] = 1
    return True


def unmark_started(signum: int) -> None:
    if _started is not None:
        _started[signum] = 0
