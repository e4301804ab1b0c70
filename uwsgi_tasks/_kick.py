"""Waking a busy spooler, so a task spooled while it runs another never waits for the next scan.

uWSGI wakes a spooler on `uwsgi.spool()` only when it is idle. A task spooled while the spooler runs
another one (including a task spooled from inside a task) waits for the next directory scan:
``--spooler-frequency`` seconds, 30 by default. A SIGUSR1 to a busy spooler makes it rescan as soon
as its current task ends (uwsgi_internals.md §1.4, verified).

To pay for a signal only when it helps, spoolers publish on a board shared by every process of the
instance (an anonymous shared mapping made in the master before the fork): per spooler, a counter of
tasks started, whether one of our tasks is running, and when the last one finished. A producer kicks
a spooler that is running a task, or finished one in the last few milliseconds (uWSGI still counts it
as busy while it unlinks and closes the file), and not again while that state is unchanged: one kick
per busy spell is enough, because the spooler keeps a pending wake-up until its current pass ends.

Where there is no board (the package was imported after the fork, e.g. with ``lazy-apps``), every
spool kicks every spooler.

Some spools run no Python at all on this host: a packet from another host (modifier1 17, see
`_targets`) is spooled by uWSGI's C code in a worker, and a producer outside uWSGI writes files
directly. So the spooler also looks itself: it notes the spool directories' mtimes (and, with
``spooler-ordered``, their priority directories') when a task starts, and if they changed by the time
it ends, a file arrived meanwhile and it wakes itself. (A spool landing between uWSGI marking the
spooler busy and our first look is still missed, as is one within the filesystem's mtime resolution
of it; it waits for the next arrival or for ``--spooler-frequency``.)
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import signal
import struct
import time
from typing import Final

from . import _uwsgi

logger = logging.getLogger("uwsgi_tasks")

_SLOTS: Final = 64
_SLOT: Final = struct.Struct("=IB3xQ")  # tasks started, running flag, monotonic ns of last finish
# uWSGI marks a spooler idle only after unlinking and closing the task's file, a few microseconds
# after our code returns; a finish this recent still counts as busy.
_RECENT_NS: Final = 2_000_000

_board: mmap.mmap | None = None
_my_slot: tuple[int, int] | None = None  # (pid, slot) of this spooler process
_kicked: dict[int, tuple[int, int]] = {}  # slot -> its (counter, running) when this process kicked it

# The directories whose mtimes show an arrival: the spool directories and their priority directories,
# listed again at most this often (listing a long queue is not free; a new priority directory changes
# its parent's mtime, so an arrival there is noticed anyway).
_RELIST: Final = 5.0
_watched: list[str] = []
_listed_at = -_RELIST
_stamp: tuple[int, ...] = ()


def create_board() -> None:
    """Make the shared board, if this is the master before the fork; harmless elsewhere."""
    global _board
    if _board is None and _uwsgi.RUNNING and os.getpid() == _uwsgi.masterpid():
        _board = mmap.mmap(-1, _SLOTS * _SLOT.size)


def _slot() -> int | None:
    """This spooler's place on the board (spoolers are forked from the master, which never has one)."""
    global _my_slot
    if _my_slot is None:
        pid = os.getpid()
        pids = _uwsgi.spooler_pids()
        _my_slot = (pid, pids.index(pid) if pid in pids else -1)
    return _my_slot[1] if 0 <= _my_slot[1] < _SLOTS else None


def _mtimes() -> tuple[int, ...]:
    global _watched, _listed_at
    now = time.monotonic()
    if now - _listed_at >= _RELIST:
        _listed_at = now
        _watched = []
        ordered = _uwsgi.flag("spooler-ordered")  # without it uWSGI never looks in priority directories
        for directory in _uwsgi.spooler_dirs():
            _watched.append(directory)
            if ordered:
                with contextlib.suppress(OSError), os.scandir(directory) as entries:
                    _watched += [
                        e.path for e in entries if e.name.isdigit() and e.is_dir(follow_symlinks=False)
                    ]
    stamps = []
    for path in _watched:
        try:
            stamps.append(os.stat(path).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


def task_started() -> None:
    """Called by the spooler before it runs a task."""
    global _stamp
    _stamp = _mtimes()
    slot = _slot()
    if _board is not None and slot is not None:
        started, _, finished = _SLOT.unpack_from(_board, slot * _SLOT.size)
        _SLOT.pack_into(_board, slot * _SLOT.size, (started + 1) & 0xFFFFFFFF, 1, finished)


def task_finished() -> None:
    """Called by the spooler after it ran a task."""
    slot = _slot()
    if _board is not None and slot is not None:
        started, _, _ = _SLOT.unpack_from(_board, slot * _SLOT.size)
        _SLOT.pack_into(_board, slot * _SLOT.size, started, 0, time.monotonic_ns())
    if _mtimes() != _stamp:  # something arrived while we ran: uWSGI didn't wake us, busy as we were
        os.kill(os.getpid(), signal.SIGUSR1)


def after_spool() -> None:
    """Called after every spool: kick the spoolers that are busy and not kicked yet."""
    for slot, pid in enumerate(_uwsgi.spooler_pids()):
        if pid <= 0:  # an external spooler (pid 0): not ours to signal, and kill(0) hits the group
            continue
        if _board is not None and slot < _SLOTS:
            started, running, finished = _SLOT.unpack_from(_board, slot * _SLOT.size)
            busy = running or time.monotonic_ns() - finished < _RECENT_NS
            if not busy or _kicked.get(slot) == (started, running):
                continue
            _kicked[slot] = (started, running)
        with contextlib.suppress(ProcessLookupError):  # respawning: a new spooler scans at start
            os.kill(pid, signal.SIGUSR1)
