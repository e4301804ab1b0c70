"""A spool directory and our state beside it: its layout, and the only way files there are opened.

Layout, under each spool directory (uWSGI only looks at ``uwsgi_spoolfile_on_*`` files and numeric
priority directories; ``.uwsgi_tasks/`` is neither)::

    uwsgi_spoolfile_on_*        spool files, and <priority>/uwsgi_spoolfile_on_* with spooler-ordered
    .uwsgi_tasks/results/<id>   outcome records (and <id>.<kind> notes), see `_outcomes._files`
    .uwsgi_tasks/set_aside/     spool files taken out of the queue, each with <name>.reason.json
    .uwsgi_tasks/started/<id>   a task being run (see `_run._starts`); .uwsgi_tasks/done/<id> ran
                                silently

Every other module names these directories with the constants below (`Area`), never by their text.

Whoever can write here is not trusted to make *us* write elsewhere or hang: files are opened without
following symlinks and without blocking (a FIFO is not a file), only regular files are read, and
new files are written under a fresh private name and renamed into place. Nothing here executes,
imports or unpickles anything from the files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator
from typing import Final, Literal

from . import _uwsgi
from ._config import max_task_size
from ._exceptions import DecodeError

logger = logging.getLogger("uwsgi_tasks")

STATE_DIR: Final = ".uwsgi_tasks"

#: The directories under `STATE_DIR` (see the module's doc).
Area = Literal["results", "set_aside", "started", "done"]
RESULTS: Final = "results"
SET_ASIDE: Final = "set_aside"
STARTED: Final = "started"
DONE: Final = "done"

_READ: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# A spool file's packet and uWSGI's own keys, beyond the task itself.
_SPOOL_OVERHEAD: Final = 0x10000 + 4


def spool_file_limit() -> int:
    """The largest spool file read: `max_task_size` and the packet around it."""
    return max_task_size() + _SPOOL_OVERHEAD


def state_dir(spool_dir: str) -> str:
    return os.path.join(spool_dir, STATE_DIR)


_checked: set[str] = set()


def state_subdir(spool_dir: str, name: Area) -> str:
    """``<spool_dir>/.uwsgi_tasks/<name>``, made if missing; OSError if it, or ``.uwsgi_tasks``, is
    anything but a real directory of ours (see `real_dir`). Checked once per process and directory:
    for the spooler's own writes, as the user that owns them. Whatever deletes or is run by an
    operator goes through `StateDir` instead, which never resolves a path twice."""
    path = os.path.join(spool_dir, STATE_DIR, name)
    if path not in _checked:
        real_dir(os.path.join(spool_dir, STATE_DIR))
        real_dir(path)
        _checked.add(path)
    return path


_DIRECTORY: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _owners(parent: os.stat_result) -> tuple[int, ...]:
    # Ours, or the spool directory's owner's (an operator's CLI, run as root).
    return (os.geteuid(), parent.st_uid)


def _refuse(path: str, why: str) -> OSError:
    return OSError(errno.ENOTDIR, f"not a directory of ours ({why}): refusing to use it", path)


def real_dir(path: str, mode: int = 0o750) -> str:
    """*path*, a directory made if missing; OSError if something else is there (a symlink too), or a
    directory someone else owns (whoever made it first could swap what is inside)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode)
        info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(path, "a symlink or a file")
    if info.st_uid not in _owners(os.stat(os.path.dirname(path) or ".")):
        raise _refuse(path, f"owned by uid {info.st_uid}")
    return path


class StateDir:
    """One of the state directories of a spool directory, open: every operation is relative to its
    descriptor, so a directory swapped for a symlink halfway through changes nothing (an operator's
    command run as root never deletes or writes outside it). A context manager.

    Raises FileNotFoundError if it doesn't exist (and *create* is False), OSError if it, or
    ``.uwsgi_tasks``, is a symlink, not a directory, or owned by someone else.
    """

    def __init__(self, spool_dir: str, name: Area | None = None, *, create: bool = False) -> None:
        self.path = os.path.join(spool_dir, STATE_DIR, name) if name else spool_dir
        top = os.open(spool_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fd = top
        try:
            for part in (STATE_DIR, name) if name else ():
                inner = _subdir(fd, part, create, self.path)
                if fd != top:
                    os.close(fd)
                fd = inner
        except BaseException:
            if fd != top:
                os.close(fd)
            os.close(top)
            raise
        if fd != top:
            os.close(top)
        self.fd = fd

    def __enter__(self) -> StateDir:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def read(self, name: str, limit: int | None = None) -> bytes | None:
        """Like `read_regular`, for *name* in this directory."""
        return read_regular(name, limit, dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def subdir(self, name: str, *, create: bool = False) -> int:
        """A descriptor of subdirectory *name* (close it), checked like this one."""
        return _subdir(self.fd, name, create, os.path.join(self.path, name))


def _subdir(parent: int, name: str, create: bool, path: str) -> int:
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o750, dir_fd=parent)
        fd = os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as e:  # ELOOP: a symlink; ENOTDIR: a file
        raise _refuse(path, e.strerror or "not a directory") from None
    if os.fstat(fd).st_uid not in _owners(os.fstat(parent)):
        os.close(fd)
        raise _refuse(path, "owned by another user")
    return fd


def read_regular(path: str, limit: int | None = None, *, dir_fd: int | None = None) -> bytes | None:
    """The contents of the regular file *path*; None if there is none (missing, or a symlink, FIFO,
    directory or device in its place). `DecodeError` if it is larger than *limit* bytes (unread)."""
    try:
        fd = os.open(path, _READ, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
            return None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if limit is not None and info.st_size > limit:
            raise DecodeError(f"{path} is {info.st_size} bytes, over the {limit}-byte limit")
        chunks, total = [], 0
        while chunk := os.read(fd, max(info.st_size, 0x10000)):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise DecodeError(f"{path} grew over the {limit}-byte limit while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private(
    path: str, data: bytes, mode: int = 0o600, *, mtime: float | None = None, dir_fd: int | None = None
) -> None:
    """Write *path* whole or not at all: under a fresh name beside it (never an existing file or a
    symlink), then renamed over it. On any error, or a short write that can't finish (a full disk),
    nothing is left behind and the error is raised."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, _CREATE, mode, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
        os.rename(temporary, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise


def is_priority_dir(name: str) -> bool:
    """Whether *name* names a priority directory: with ``spooler-ordered``, uWSGI runs the files of
    the directories named by a number, lowest first, before those of the spool directory itself."""
    return name.isdigit()


def priority_dir(spool_dir: str, priority: int) -> str:
    """*spool_dir*'s directory for *priority*, made if missing (see `real_dir`)."""
    return real_dir(os.path.join(spool_dir, str(priority)))


def queue_dirs(spool_dir: str) -> list[str]:
    """*spool_dir* and its priority directories: where its spool files are."""
    return [spool_dir] + [
        os.path.join(spool_dir, n) for n in sorted(os.listdir(spool_dir)) if is_priority_dir(n)
    ]


def spool_root(path: str) -> str:
    """The spooler directory a spool file belongs to: the configured one it is in (files with a
    priority sit one level down; uWSGI also scans deeper directories, which the spooler refuses)."""
    parent = os.path.dirname(path)
    dirs = _uwsgi.spooler_dirs()
    if parent in dirs:
        return parent
    inside = [d for d in dirs if path.startswith(f"{d}/")]
    return max(inside, key=len) if inside else parent


#: Beside each set-aside file, why it was set aside (JSON: reason, task_id, set_aside_at, from).
REASON: Final = ".reason.json"
_REASON_LIMIT: Final = 1 << 20  # a note is small


def set_aside_names(aside: StateDir) -> Iterator[str]:
    """The names of the set-aside spool files in *aside* (not their notes, nor files half-written)."""
    return (name for name in aside.names() if not name.endswith((REASON, ".tmp")))


def reason_for(aside: StateDir, name: str) -> str:
    """Why set-aside file *name* was set aside; "" when its note is missing or unreadable."""
    try:
        note = aside.read(name + REASON, _REASON_LIMIT)
        reason = None if note is None else json.loads(note).get("reason")
    except (OSError, ValueError, AttributeError, RecursionError):
        return ""
    return reason if isinstance(reason, str) else ""


def set_aside(path: str, spool_dir: str, reason: str, task_id: str | None = None) -> str | None:
    """Move spool file *path* out of the spooler's way, into *spool_dir*'s set-aside directory with
    the reason beside it; the new path, or None if it could not be moved (it stays where it is:
    uWSGI runs it again at a later scan).

    *task_id* is only given when it was read from a task that verified (or when there is no secret):
    whoever looks at the set-aside file must not be told a forged id.
    """
    try:
        directory = state_subdir(spool_dir, SET_ASIDE)
        target = os.path.join(directory, os.path.basename(path))
        if os.path.lexists(target):  # never replace an earlier set-aside file of the same name
            target = f"{target}.{time.time_ns()}"
        # The reason first, whole: whoever sees the set-aside file can read why.
        note = {"reason": reason, "task_id": task_id, "set_aside_at": time.time(), "from": path}
        write_private(f"{target}{REASON}", json.dumps(note).encode(), 0o640)
        os.rename(path, target)
    except OSError as e:
        logger.error("can't set spool file %s aside (%s), kept: %s", path, reason, e)
        return None
    logger.error("spool file %s set aside to %s: %s", path, target, reason)
    return target


def too_large(size: int) -> str | None:
    """Why a spool file of *size* bytes is over the limit (`max_task_size` and its packet), if it is."""
    if size <= spool_file_limit():
        return None
    return f"the file is {size} bytes, over the {max_task_size()}-byte limit (configure(max_task_size=...))"


_PRUNE_EVERY: Final = 60.0
_pruned: dict[tuple[str, str], float] = {}


def prune(spool_dir: str, name: Area, before: float, *, throttled: bool = False) -> int:
    """Remove what the state directory *name* holds that was last written before unix time
    *before*, and anything there that is not a regular file; how many entries were removed. Through
    the directory's descriptor (`StateDir`): never what a swapped-in symlink points to.
    *throttled*: at most once a minute per process and directory (writers prune as they write)."""
    if throttled:
        now = time.monotonic()
        if now - _pruned.get((spool_dir, name), -_PRUNE_EVERY) < _PRUNE_EVERY:
            return 0
        _pruned[spool_dir, name] = now
    removed = 0
    try:
        directory = StateDir(spool_dir, name)
    except OSError:
        return 0
    with directory:
        for entry in directory.names():
            try:
                info = directory.lstat(entry)
                if info.st_mtime < before or not stat.S_ISREG(info.st_mode):
                    directory.unlink(entry)  # (a link itself, never what it points to)
                    removed += 1
            except FileNotFoundError:
                continue
    return removed
