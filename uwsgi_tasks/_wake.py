"""Waking spoolers, so that a task never waits for uWSGI's next directory scan (``--spooler-frequency``
seconds, 30 by default) when the spooler could run it now.

uWSGI wakes a spooler (SIGUSR1) on `uwsgi.spool()` only when it is idle, and its loop can lose a
wake-up: it checks its wake-up counter, *then* sleeps in epoll for spooler-frequency seconds, so a
signal landing between the two is counted but wakes no one (uWSGI 2.0.31's spooler loop). A
process-directed signal can also be taken by any thread that doesn't block it, leaving the main
thread asleep. Two mechanisms cover every case:

Producers (`after_spool`) kick busy spoolers at once, for fast hops from task to task. Spoolers
publish on a board shared by every process of the instance (an anonymous shared mapping made in
the master before the fork): per spooler, a counter of tasks started, whether one of our tasks is
running, and when the last one finished. A producer kicks a spooler that is running a task, or
finished one in the last few milliseconds, and not again while that state is unchanged. Where there
is no board (imported after the fork, e.g. with ``lazy-apps``), every spool kicks every spooler.

Each spooler process also runs a watchdog thread (`_Watchdog`), the safety net that makes pickup
time a property instead of a race: whenever its spool directory changed and the spooler has been
idle for a moment without starting anything, it lists the directory and wakes its own main thread
(``pthread_kill``, so no other thread takes the signal) for every file that is due and not locked,
waking it again if it did not start a task (the wake-up was lost); and it sleeps until the first
scheduled file (``at``) is due, then wakes the spooler for it. A file kept by uWSGI to run again
later (``SPOOL_RETRY``) is woken for once, never in a loop. Files written by other processes (the
command line, a producer outside uWSGI, a packet from another host) are found the same way.
"""

from __future__ import annotations

import contextlib
import logging
import math
import mmap
import os
import signal
import stat
import struct
import threading
import time
from typing import Final

from . import _locks, _spooldir, _uwsgi

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

# This spooler process's own state, for its watchdog.
_started = 0  # tasks started
_running = False


def task_started() -> None:
    """Called by the spooler before it runs a task."""
    global _started, _running
    _started += 1
    _running = True
    if _board is not None and (slot := _slot()) >= 0:
        at = slot * _SLOT.size
        _STARTED.pack_into(_board, at, (_STARTED.unpack_from(_board, at)[0] + 1) & 0xFFFFFFFF)
        _board[at + _RUNNING_AT] = 1


def task_finished() -> None:
    """Called by the spooler after it ran a task (or gave up on it)."""
    global _running
    _running = False
    if _board is not None and (slot := _slot()) >= 0:
        at = slot * _SLOT.size
        _FINISHED.pack_into(_board, at + _FINISHED_AT, time.monotonic_ns())
        _board[at + _RUNNING_AT] = 0


# The watchdog looks this often; it acts once the spooler has been idle this long after a change
# (uWSGI's own wake-up usually comes first), and looks again this long after a wake-up that started
# nothing, up to spooler-frequency.
_TICK: Final = 0.05
_SETTLE: Final = 0.1
_RETRY_FIRST: Final = 0.25
_RETRY_MOST: Final = 5.0
_watchdog_in: int | None = None


def start_watchdog() -> None:
    """Start this spooler process's watchdog thread (once per process; only in a spooler)."""
    global _watchdog_in
    if _watchdog_in == os.getpid() or not _uwsgi.i_am_the_spooler():
        return
    pids = _uwsgi.spooler_pids()
    dirs = _uwsgi.spooler_dirs()
    if os.getpid() not in pids:
        return
    directory = dirs[pids.index(os.getpid())]
    _watchdog_in = os.getpid()
    watchdog = _Watchdog(directory, threading.main_thread().ident or 0, _uwsgi.flag("spooler-ordered"))
    # One look now, before this spooler's first scan: a file too large to read is set aside before
    # uWSGI allocates its whole body (a sparse file of 64 GiB would end the spooler at every scan).
    watchdog._waiting(time.time())
    threading.Thread(target=watchdog.run, name="uwsgi_tasks-watchdog", daemon=True).start()


class _Watchdog:
    """See the module's doc. Every decision is made from the directory and this process's counters;
    nothing is assumed about when uWSGI scans."""

    def __init__(self, directory: str, main_thread: int, ordered: bool) -> None:
        self.directory = directory
        self.main_thread = main_thread
        self.ordered = ordered
        self.tree = self._dirs()
        self.stamp: tuple[int, ...] = ()
        self.changed_at = time.monotonic()
        self.dirty = True  # look once at start: files may be waiting from before a restart
        self.woken: dict[str, int] = {}  # file -> its mtime when we woke the spooler for it
        self.kick_started = -1  # _started when we last woke it, while it has not started since
        self.kick_at = 0.0
        self.retry = _RETRY_FIRST
        self.next_due: float | None = None

    def run(self) -> None:
        _uwsgi.leave_signals_to_the_main_thread()
        while True:
            try:
                self.tick(time.monotonic(), time.time())
            except Exception:  # never let the thread die: tasks would wait for spooler-frequency
                logger.exception("uwsgi_tasks watchdog of %s", self.directory)
            time.sleep(_TICK)

    def tick(self, now: float, wall: float) -> None:
        stamp = self._stamp()
        if stamp != self.stamp:
            self.stamp, self.changed_at, self.dirty = stamp, now, True
        if self.kick_started >= 0 and _started != self.kick_started:
            self.kick_started, self.retry = -1, _RETRY_FIRST  # it woke up
        if _running or now - self.changed_at < _SETTLE:
            return
        lost = self.kick_started >= 0 and now - self.kick_at >= self.retry
        due = self.next_due is not None and wall >= self.next_due
        if not (self.dirty or lost or due):
            return
        self.dirty = False
        waiting = self._waiting(wall)
        if lost and waiting:
            self.retry = min(self.retry * 2, _RETRY_MOST)
            self._wake(now)
            return
        fresh = {path: mtime for path, mtime in waiting.items() if self.woken.get(path) != mtime}
        if fresh:
            self.woken.update(fresh)
            self.kick_started = _started
            self._wake(now)
        elif not waiting:
            self.kick_started = -1

    def _wake(self, now: float) -> None:
        self.kick_at = now
        signal.pthread_kill(self.main_thread, signal.SIGUSR1)

    def _dirs(self) -> list[str]:
        """The directories uWSGI scans: with spooler-ordered, it also descends into every directory
        named by a number or uWSGI's prefix, at any depth (looked at here to a depth of 3)."""
        if not self.ordered:
            return [self.directory]
        found, level = [self.directory], [self.directory]
        for _ in range(3):
            deeper = []
            for directory in level:
                try:
                    with os.scandir(directory) as entries:
                        deeper += [
                            e.path
                            for e in entries
                            if (
                                _spooldir.is_priority_dir(e.name)
                                or e.name.startswith(_uwsgi.SPOOL_FILE_PREFIX)
                            )
                            and e.is_dir(follow_symlinks=False)
                        ]
                except OSError:
                    continue
            found += deeper
            level = deeper
        return found

    def _stamp(self) -> tuple[int, ...]:
        """The mtimes of the spool directories: any file arriving or leaving changes one. Only
        stat()s while nothing changed; the directories are listed again when something did."""
        stamp = self._mtimes(self.tree)
        if stamp != self.stamp:
            self.tree = self._dirs()
            stamp = self._mtimes(self.tree)
        return stamp

    @staticmethod
    def _mtimes(directories: list[str]) -> tuple[int, ...]:
        stamp = []
        for directory in directories:
            try:
                stamp.append(os.stat(directory).st_mtime_ns)
            except OSError:
                stamp.append(0)
        return tuple(stamp)

    def _waiting(self, wall: float) -> dict[str, int]:
        """The spool files that are due and not being run (no process holds their lock), with their
        mtimes; notes when the first scheduled one is due."""
        waiting: dict[str, int] = {}
        next_due = None
        for directory in self.tree:
            try:
                with os.scandir(directory) as entries:
                    files = [e for e in entries if e.name.startswith(_uwsgi.SPOOL_FILE_PREFIX)]
            except OSError:
                continue
            for entry in files:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                oversize = _spooldir.too_large(info.st_size)
                if oversize is not None:
                    _spooldir.set_aside(entry.path, self.directory, oversize)
                    continue
                mtime = info.st_mtime
                if mtime > wall:  # uWSGI runs it from its mtime's second on
                    next_due = mtime if next_due is None else min(next_due, mtime)
                    continue
                try:
                    if _locks.holder(entry.path) is not None:
                        continue
                except OSError:
                    continue
                waiting[entry.path] = int(mtime)
        self.next_due = None if next_due is None else math.floor(next_due) + 0.02
        self.woken = {path: mtime for path, mtime in self.woken.items() if path in waiting}
        return waiting


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
