"""A spool directory and our state beside it: its layout, and the only way files there are opened.

Layout, under each spool directory (uWSGI only looks at ``uwsgi_spoolfile_on_*`` files and numeric
priority directories; ``.uwsgi_tasks/`` is neither)::

    uwsgi_spoolfile_on_*        spool files, and <priority>/uwsgi_spoolfile_on_* with spooler-ordered
    .uwsgi_tasks/results/<id>   outcome records (and <id>.<kind> notes), see `_results`
    .uwsgi_tasks/set_aside/     spool files taken out of the queue, each with <name>.reason.json
    .uwsgi_tasks/started/<id>   a task being run (see `_starts`); .uwsgi_tasks/done/<id> ran silently

Whoever can write here is not trusted to make *us* write elsewhere or hang: files are opened without
following symlinks and without blocking (a FIFO is not a file), only regular files are read, and
new files are written under a fresh private name and renamed into place. Nothing here executes,
imports or unpickles anything from the files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import Any, Final

import attrs

from . import _codec
from ._config import max_task_size
from ._exceptions import DecodeError

PREFIX: Final = "uwsgi_spoolfile_on_"
STATE_DIR: Final = ".uwsgi_tasks"

_READ: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# A spool file's packet and uWSGI's own keys, beyond the task itself.
_SPOOL_OVERHEAD: Final = 0x10000 + 4


def state_dir(spool_dir: str) -> str:
    return os.path.join(spool_dir, STATE_DIR)


_checked: set[str] = set()


def state_subdir(spool_dir: str, name: str) -> str:
    """``<spool_dir>/.uwsgi_tasks/<name>``, made if missing; OSError if it, or ``.uwsgi_tasks``, is
    anything but a real directory (a symlink would send our writes elsewhere). Checked once per
    process and directory."""
    path = os.path.join(spool_dir, STATE_DIR, name)
    if path not in _checked:
        real_dir(os.path.join(spool_dir, STATE_DIR))
        real_dir(path)
        _checked.add(path)
    return path


def real_dir(path: str, mode: int = 0o750) -> str:
    """*path*, a directory made if missing; OSError if something else is there (a symlink too)."""
    try:
        found = os.lstat(path).st_mode
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode)
        found = os.lstat(path).st_mode
    if not stat.S_ISDIR(found):
        raise OSError(errno.ENOTDIR, "not a directory (refusing to follow it)", path)
    return path


def read_regular(path: str, limit: int | None = None) -> bytes | None:
    """The contents of the regular file *path*; None if there is none (missing, or a symlink, FIFO,
    directory or device in its place). `DecodeError` if it is larger than *limit* bytes (unread)."""
    try:
        fd = os.open(path, _READ)
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
        chunks = []
        while chunk := os.read(fd, max(info.st_size, 0x10000)):
            chunks.append(chunk)
            if limit is not None and sum(map(len, chunks)) > limit:
                raise DecodeError(f"{path} grew over the {limit}-byte limit while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private(path: str, data: bytes, mode: int = 0o600, *, mtime: float | None = None) -> None:
    """Write *path* whole or not at all: under a fresh name beside it (never an existing file or a
    symlink), then renamed over it. On any error, or a short write that can't finish (a full disk),
    nothing is left behind and the error is raised."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, _CREATE, mode)
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
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def is_regular(path: str) -> bool:
    """Whether *path* is a regular file itself (not a symlink to one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def spool_files(spool_dir: str) -> Iterator[str]:
    """Every spool file of *spool_dir*, priority directories included (regular files only)."""
    with os.scandir(spool_dir) as entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.is_file(follow_symlinks=False):
                yield entry.path
            elif entry.name.isdigit() and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    for e in inner:
                        if e.name.startswith(PREFIX) and e.is_file(follow_symlinks=False):
                            yield e.path


def check_spool_dir(spool_dir: str) -> None:
    """Raise unless *spool_dir* looks like a spool directory (an empty one does)."""
    if not os.path.isdir(spool_dir):
        raise FileNotFoundError(f"{spool_dir}: no such directory")
    names = os.listdir(spool_dir)
    if names and not any(n.startswith(PREFIX) or n.isdigit() or n == STATE_DIR for n in names):
        raise NotADirectoryError(f"{spool_dir} is not a spool directory (no spool files, no {STATE_DIR}/)")


@attrs.frozen
class SpoolEntry:
    """One spool file as seen from outside: *kind* is "task", "legacy" (0.7.3), "foreign" or "invalid"."""

    path: str
    size: int
    due: float
    kind: str
    spec: dict[str, Any] | None = None
    problem: str = ""

    @property
    def task_id(self) -> str | None:
        return str(self.spec["task_id"]) if self.spec and "task_id" in self.spec else None


def read_message(path: str) -> dict[bytes, bytes]:
    """The keys of spool file *path*; FileNotFoundError if it is gone (or not a regular file),
    `DecodeError` if it isn't a spool file, or is over the size limit."""
    data = read_regular(path, max_task_size() + _SPOOL_OVERHEAD)
    if data is None:
        raise FileNotFoundError(errno.ENOENT, "no spool file (or not a regular file)", path)
    return _codec.parse_spool_file(data)


def read_entry(path: str) -> SpoolEntry:
    """What *path* holds; FileNotFoundError if it is gone (or is no regular file), never anything else."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise FileNotFoundError(errno.ENOENT, "not a regular file", path)
    try:
        message = read_message(path)
    except DecodeError as e:
        return SpoolEntry(path, info.st_size, info.st_mtime, "invalid", problem=str(e))
    if _codec.is_legacy_spool_message(message):
        return SpoolEntry(path, info.st_size, info.st_mtime, "legacy", problem="written by uwsgi_tasks 0.7.3")
    if not _codec.is_spool_message(message):
        return SpoolEntry(path, info.st_size, info.st_mtime, "foreign", problem="not a uwsgi_tasks task")
    try:
        spec = _codec.spec_tree(message)
    except DecodeError as e:
        return SpoolEntry(path, info.st_size, info.st_mtime, "invalid", problem=str(e))
    return SpoolEntry(path, info.st_size, info.st_mtime, "task", spec=spec)


def find(spool_dir: str, task_id: str) -> SpoolEntry | None:
    """The spool file of task *task_id* in *spool_dir*, if there is one."""
    needle = task_id.encode()
    for path in spool_files(spool_dir):
        try:
            data = read_regular(path, max_task_size() + _SPOOL_OVERHEAD)
            if data is None or needle not in data:
                continue
            entry = read_entry(path)
        except (FileNotFoundError, DecodeError):  # it ran while we looked, or is too large to be ours
            continue
        if entry.task_id == task_id:
            return entry
    return None
