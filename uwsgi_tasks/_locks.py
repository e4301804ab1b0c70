"""The spooler's fcntl locks on spool files: who holds one, and taking one to cancel a task.

A spooler holds a write lock on a spool file for as long as it runs the task (uWSGI 2.0.31's spooler), and
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
def locked(path: str) -> Iterator[int | None]:
    """Try to take the spooler's lock on *path*: yields its descriptor while held, None if someone
    has it (or the file is gone).

    While we hold it no spooler will start the task. FileNotFoundError if the file is gone.
    """
    if path == running_here:
        yield None
        return
    fd = os.open(path, os.O_RDWR | _OPEN)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        # The file may have been run and unlinked between our open() and the lock.
        yield fd if os.fstat(fd).st_nlink > 0 else None
    finally:
        os.close(fd)


def remove_locked(path: str, held: int) -> None:
    """Unlink *path*, the file `locked` holds (*held*), and nothing else: through its directory,
    opened without following a symlink in its last component, and only if the name there is still
    the very file that is locked (a directory swapped meanwhile would make a path-based unlink
    remove another file of the same name). FileNotFoundError if it is not."""
    directory = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        name = os.path.basename(path)
        found, locked_file = os.stat(name, dir_fd=directory, follow_symlinks=False), os.fstat(held)
        if (found.st_dev, found.st_ino) != (locked_file.st_dev, locked_file.st_ino):
            raise FileNotFoundError(path)
        os.unlink(name, dir_fd=directory)
    finally:
        os.close(directory)
