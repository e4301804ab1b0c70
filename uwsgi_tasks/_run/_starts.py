"""Durable starts: the tasks a spool directory's spoolers began and never finished, and the tasks that
ran without leaving a record.

Right before a spooler calls a task it writes ``.uwsgi_tasks/started/<task id>``, holding the attempt
and how many starts of it never ended, and holds an flock on it while the task runs (a second copy
of the same task waits, see `Busy`); every ordinary end removes it. A marker found at a start means
the process died inside the task (SIGKILL, the OOM killer, a segfault, ``spooler-harakiri``): uWSGI
keeps the file and runs it again as if nothing happened, so each death counts as an attempt here
(how many: `_retry.attempts_after_deaths`), and a task that keeps killing its spooler ends FAILED
instead of running for ever.

A task with ``store_result=False`` that succeeded writes no record; its marker moves to
``.uwsgi_tasks/done/<task id>`` instead, so that a copy of its spool file put back later is known to
have run (see `_spooler`). Both kinds of marker are removed after the result TTL, like records.
With a secret, markers are signed and bound to their task (and attempt): a forged one counts nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import time
from typing import Final

from .. import _codec
from .._config import result_ttl
from .._spooldir import DONE, STARTED, Area, prune, read_regular, state_dir, state_subdir

logger = logging.getLogger("uwsgi_tasks")


class Busy(Exception):
    """Another process is running this task right now (a copy of its file was queued twice)."""


def begin(spool_dir: str, task_id: str, attempt: int) -> tuple[int, int]:
    """Note durably that *attempt* of *task_id* starts now: how many earlier starts of it died, and
    the marker's descriptor, locked for as long as this process runs it (pass it to `end`).

    Raises `Busy` if another process holds the marker (the same task is running there), and OSError
    when the note can't be written: the task must not run then (a death would go uncounted).
    """
    path = os.path.join(state_subdir(spool_dir, STARTED), task_id)
    fd = os.open(path, _MARKER, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"task {task_id} is running in another process") from None
        stored = os.pread(fd, 1024, 0)
        deaths = _deaths(stored, task_id, attempt)
        if stored:
            os.ftruncate(fd, 0)
        data = _codec.seal_start(task_id, b"%d:%d" % (attempt, deaths + 1))
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(f"{path}: short write")
    except BaseException:
        os.close(fd)
        raise
    return deaths, fd


_MARKER: Final = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _deaths(stored: bytes, task_id: str, attempt: int) -> int:
    """Starts of this very attempt that never ended, from its marker (none if it is not one)."""
    if not stored:
        return 0
    data = _codec.open_start(task_id, stored)
    noted, _, count = (data or b"").partition(b":")
    if noted != b"%d" % attempt or not count.isdigit() or len(count) > 7:
        logger.warning(
            "task %s: ignoring a start marker that is not this attempt's: %r", task_id, stored[:80]
        )
        return 0
    return int(count)


def end(spool_dir: str, task_id: str, fd: int, *, silently_done: bool = False, keep: bool = False) -> None:
    """The start noted by `begin` (its descriptor *fd*) ended without its process dying;
    *silently_done*: it succeeded and wrote no record, so keep that it ran. *keep*: leave the marker
    (its deaths still count: the task's failure could not be recorded)."""
    started = _marker(spool_dir, STARTED, task_id)
    if keep:
        os.close(fd)
        return
    try:
        if silently_done:  # the marker itself becomes the note that it ran: one rename
            os.ftruncate(fd, 0)
            os.pwrite(fd, _codec.seal_start(task_id, _DONE), 0)
            os.rename(started, os.path.join(state_subdir(spool_dir, DONE), task_id))
        else:
            os.unlink(started)
    except FileNotFoundError:
        pass
    except OSError as e:  # the next start of this task would count a death that wasn't one
        logger.error("task %s: can't remove its start marker: %s", task_id, e)
    finally:
        os.close(fd)
    expired = time.time() - result_ttl()
    for kind in (STARTED, DONE):
        prune(spool_dir, kind, expired, throttled=True)


_DONE: Final = b"done"


def _marker(spool_dir: str, kind: Area, task_id: str) -> str:
    return os.path.join(state_dir(spool_dir), kind, task_id)


def started_at(spool_dir: str, task_id: str) -> float | None:
    """When the running start of *task_id* began, if one is running (or died) here."""
    try:
        return os.lstat(_marker(spool_dir, STARTED, task_id)).st_mtime
    except OSError:
        return None


def ran_silently(spool_dir: str, task_id: str) -> bool:
    """Whether *task_id* succeeded here without a record (``store_result=False``), within the TTL
    (a marker that doesn't verify, with a secret, says nothing)."""
    stored = read_regular(_marker(spool_dir, DONE, task_id), 1024)
    return stored is not None and _codec.open_start(task_id, stored) == _DONE
