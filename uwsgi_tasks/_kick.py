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
directly. uWSGI doesn't wake a busy spooler for those either, and nobody can tell when uWSGI marks
its spooler busy. So every spooler process runs a small thread that waits for a busy spell (tasks
one after another) to end, then wakes its own spooler once: whatever arrived during the spell, or
in the moments around it that no code of ours sees, is found by the rescan that follows. The
price is one extra directory scan per busy spell; a task only counts itself.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import signal
import struct
import threading
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
_UNKNOWN: Final = -2
_my_slot = _UNKNOWN  # this spooler's place on the board, once known (see _slot)
_kicked: dict[int, tuple[int, int]] = {}  # slot -> its (counter, running) when this process kicked it
# Per spool directory, the places of its spoolers (see _slots): the configuration never changes.
_slots_of: dict[str, tuple[list[int], list[int]]] = {}


def create_board() -> None:
    """Make the shared board, if this is the master before the fork; harmless elsewhere."""
    global _board
    if _board is None and _uwsgi.RUNNING and os.getpid() == _uwsgi.masterpid():
        _board = mmap.mmap(-1, _SLOTS * _SLOT.size)


def _slot() -> int:
    """This spooler's place on the board, or -1 (spoolers are forked from the master, which never
    has one)."""
    global _my_slot
    if _my_slot == _UNKNOWN:
        pids = _uwsgi.spooler_pids()
        slot = pids.index(os.getpid()) if os.getpid() in pids else -1
        _my_slot = slot if slot < _SLOTS else -1
    return _my_slot


# A slot's fields, written one at a time by its spooler (two per task each way: these run per task),
# where _SLOT lays them out: the counter first, the running flag next, the finish time last.
_STARTED: Final = struct.Struct("=I")
_RUNNING_AT: Final = _STARTED.size
_FINISHED: Final = struct.Struct("=Q")
_FINISHED_AT: Final = _SLOT.size - _FINISHED.size

# This spooler process's own state, for its spell thread.
_started = 0  # tasks started
_done = 0  # tasks that left their file (ran, or were set aside)
_running = False
_spell: threading.Event | None = None  # set when a task starts; the thread clears it
# A busy spell has ended once no task ran for this long; the longer it lasts, the less often the
# thread looks, down to this (the wake-up comes at most that late).
_QUIET: Final = 0.001
_PATIENT: Final = 0.05


def task_started() -> None:
    """Called by the spooler before it runs a task."""
    global _started, _running
    _started += 1
    _running = True
    if _spell is not None and not _spell.is_set():
        _spell.set()
    if _board is not None and (slot := _slot()) >= 0:
        at = slot * _SLOT.size
        _STARTED.pack_into(_board, at, (_STARTED.unpack_from(_board, at)[0] + 1) & 0xFFFFFFFF)
        _board[at + _RUNNING_AT] = 1


def task_finished(*, kept: bool) -> None:
    """Called by the spooler after it ran a task; *kept*: its file stays for uWSGI to run again."""
    global _running, _done
    _running = False
    if not kept:
        _done += 1
    if _board is not None and (slot := _slot()) >= 0:
        at = slot * _SLOT.size
        _FINISHED.pack_into(_board, at + _FINISHED_AT, time.monotonic_ns())
        _board[at + _RUNNING_AT] = 0


def watching() -> bool:
    """Whether this spooler process's spell thread runs (see `watch`)."""
    return _spell is not None


def watch(directory: str) -> None:
    """Start this spooler process's spell thread, for its spool *directory* (once per process: each
    spooler is forked from the master, which never starts one). Called during its first task, which
    counts as the first spell."""
    global _spell
    if _spell is not None or not _uwsgi.i_am_the_spooler():
        return
    _spell = threading.Event()
    _spell.set()
    threading.Thread(
        target=_after_spells, args=(_spell, directory), name="uwsgi_tasks-kick", daemon=True
    ).start()


def _after_spells(spell: threading.Event, directory: str) -> None:
    """Wake this spooler once after each busy spell ends.

    Not after a spell whose every file was left for uWSGI to run again (a task returning SPOOL_RETRY,
    a shared store that is down): rescanning at once would run them again in a loop, where uWSGI
    means to wait for its next scan. Unless the spool *directory* changed since the last look: kept
    files stay put, so a change then is an arrival (another spooler's directory is not looked at: its
    tasks come and go).
    """
    _uwsgi.leave_signals_to_the_main_thread()
    pid = os.getpid()
    woken_after = 0  # _done when this thread last woke the spooler
    stamp = -1  # unknown before the first spell ends: that one always wakes the spooler
    while True:
        spell.wait()
        spell.clear()  # a task starting from now on sets it again, and its spell gets a wake-up too
        try:
            seen, pause = -1, _QUIET
            while _running or _started != seen:
                seen = _started
                time.sleep(pause)
                pause = min(pause * 2, _PATIENT)
            done, before, stamp = _done, stamp, _stamp(directory)
            if done != woken_after or stamp != before:
                woken_after = done
                os.kill(pid, signal.SIGUSR1)
        except Exception:  # never let the thread die: arrivals would wait for spooler-frequency
            logger.exception("uwsgi_tasks: can't wake the spooler after a busy spell")


def _stamp(directory: str) -> int:
    """The spool directory's mtime (not its priority directories': listing those is not free)."""
    try:
        return os.stat(directory).st_mtime_ns
    except OSError:
        return 0


def after_spool(directory: str) -> None:
    """Called after every spool into *directory*: kick its spoolers that are busy and not kicked yet.

    Only its own: a spooler of another directory can't run the task, and a kick would only make it
    rescan its directory, running again any file kept there for its next scan.
    """
    boarded, beyond = _slots(directory)
    busy = list(beyond)  # spoolers with no place on the board are kicked every time
    board = _board
    if board is None:
        busy += boarded
    else:
        for slot in boarded:  # the board first: the pids only when one is busy
            started, running, finished = _SLOT.unpack_from(board, slot * _SLOT.size)
            busy_now = running or time.monotonic_ns() - finished < _RECENT_NS
            if busy_now and _kicked.get(slot) != (started, running):
                _kicked[slot] = (started, running)
                busy.append(slot)
    if busy:
        pids = _uwsgi.spooler_pids()
        _kick([pids[slot] for slot in busy])


def _slots(directory: str) -> tuple[list[int], list[int]]:
    """The places of *directory*'s spoolers in `uwsgi.spooler_pids()` (one per process, in the order
    of `uwsgi.spoolers`): those on the board, and those beyond its slots."""
    found = _slots_of.get(directory)
    if found is None:
        mine = [i for i, d in enumerate(_uwsgi.spooler_dirs()) if d == directory]
        found = _slots_of[directory] = ([i for i in mine if i < _SLOTS], [i for i in mine if i >= _SLOTS])
    return found


def _kick(pids: list[int]) -> None:
    for pid in pids:
        if pid <= 0:  # an external spooler (pid 0): not ours to signal, and kill(0) hits the group
            continue
        with contextlib.suppress(ProcessLookupError):  # respawning: a new spooler scans at start
            os.kill(pid, signal.SIGUSR1)
