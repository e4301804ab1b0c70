"""Starting scheduled tasks on time, whatever ``--spooler-frequency`` says.

uWSGI skips a spool file whose ``at`` (its mtime) is in the future and only looks again at its next
scan, ``--spooler-frequency`` seconds later (30 by default): a task due in 2 s could start 30 s late,
and so could every retry with a delay. So every time a task is spooled with ``at``, its due second is
noted as an empty file ``<spool dir>/.uwsgi_tasks/due/<unix second>`` (written again, it gets a new
mtime), and each spooler process runs a small thread that sleeps until the next due second and then
wakes its own spooler with SIGUSR1, as a producer's spool would; a note written again after it acted
wakes it again. A note due now wakes the spoolers for a file written by another process (the CLI's
requeue, an external producer). Due notes survive restarts; old ones are removed by the spoolers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import threading
import time
from typing import Final

from . import _uwsgi
from ._spooldir import state_subdir

logger = logging.getLogger("uwsgi_tasks")

# How often a spooler re-reads the due notes, to see tasks scheduled since it last looked.
_POLL: Final = 0.25
# A due note older than this has been acted on by every spooler.
_KEEP: Final = 300
# uWSGI compares whole seconds: wake a little after the second starts.
_AFTER: Final = 0.02

_started_in: int | None = None


def _due_dir(spool_dir: str) -> str:
    return os.path.join(spool_dir, ".uwsgi_tasks", "due")


# Never through a symlink, never waiting on a FIFO: anyone who can write the spool directory can
# put one where a note goes, and `note_due` also runs in the operator's CLI.
_NOTE: Final = os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def note_due(spool_dir: str, at: int) -> None:
    """Record that a task in *spool_dir* is due at unix second *at* (a note that exists gets a new
    mtime)."""
    path = os.path.join(state_subdir(spool_dir, "due"), str(at))
    try:
        fd = os.open(path, _NOTE, 0o640)
    except OSError:  # a symlink or a FIFO in its place: removed (the link itself), then made afresh
        os.unlink(path)
        fd = os.open(path, _NOTE | os.O_EXCL, 0o640)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.utime(fd)
    finally:
        os.close(fd)


def _read_dues(now: float) -> dict[str, tuple[int, int]]:
    """The due notes: path -> (due second, mtime in ns); notes long past are removed."""
    dues: dict[str, tuple[int, int]] = {}
    for spool_dir in _uwsgi.spooler_dirs():
        directory = _due_dir(spool_dir)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        for name in names:
            if not name.isdigit():
                continue
            path = os.path.join(directory, name)
            with contextlib.suppress(FileNotFoundError):
                if int(name) < now - _KEEP:
                    os.unlink(path)
                else:
                    dues[path] = (int(name), os.lstat(path).st_mtime_ns)
    return dues


def _watch() -> None:
    _uwsgi.leave_signals_to_the_main_thread()
    acted: dict[str, int] = {}  # note -> the mtime it had when we woke the spooler for it
    first = True
    pid = os.getpid()
    while True:
        pause = _POLL
        try:
            now = time.time()
            dues = _read_dues(now)
            passed = {p: mtime for p, (due, mtime) in dues.items() if due <= now and acted.get(p) != mtime}
            if passed and not first:  # at start uWSGI scans by itself
                os.kill(pid, signal.SIGUSR1)
            acted = {p: acted[p] for p in dues if p in acted} | passed
            first = False
            upcoming = [due for due, _ in dues.values() if due > now]
            if upcoming:
                pause = min(min(upcoming) + _AFTER - now, _POLL)
        except Exception:  # never let the thread die: scheduled tasks would silently run late
            logger.exception("uwsgi_tasks waker: can't read the due notes")
        time.sleep(max(pause, _AFTER))


def start() -> None:
    """Start the wake-up thread of this spooler process (once per process)."""
    global _started_in
    if _started_in == os.getpid() or not _uwsgi.i_am_the_spooler():
        return
    _started_in = os.getpid()
    threading.Thread(target=_watch, name="uwsgi_tasks-waker", daemon=True).start()
