"""The spooler's fcntl locks on spool files: who holds one, and taking one to cancel a task.

A spooler holds a write lock on a spool file for as long as it runs the task (core/spooler.c), and
skips a file another process has locked. These locks belong to a process, not to a descriptor:
closing *any* descriptor of the file drops every lock the process holds on it. So a process never
probes the file it is running itself (`running_here`).
"""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
_FLOCK: Final = struct.Struct("@hhqqixxxx")

#: The spool file the spooler in this process is running, if any (set by the spooler executor).
running_here: str | None = None
# Never through a symlink, never waiting on a FIFO someone put in the spool directory.
_OPEN: Final = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def holder(path: str) -> int | None:
    """The pid of the process holding a write lock on *path*, or None. FileNotFoundError if gone."""
    if path == running_here:
        return os.getpid()
    fd = os.open(path, os.O_RDONLY | _OPEN)
    try:
        probe = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


@contextmanager
def locked(path: str) -> Iterator[bool]:
    """Try to take the spooler's lock on *path*: yields True while held, False if someone has it.

    While we hold it no spooler will start the task. FileNotFoundError if the file is gone.
    """
    if path == running_here:
        yield False
        return
    fd = os.open(path, os.O_RDWR | _OPEN)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        # The file may have been run and unlinked between our open() and the lock.
        yield os.fstat(fd).st_nlink > 0
    finally:
        os.close(fd)
