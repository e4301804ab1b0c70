"""Reading spool files from outside the spooler (the command line, `TaskHandle.from_id`): listed,
read through `_spooldir`'s safe readers, and told apart (ours, 0.7.3's, foreign, unreadable) without
importing, unpickling or running anything they hold."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from . import _codec
from ._exceptions import DecodeError
from ._spooldir import STATE_DIR, StateDir, is_priority_dir, read_regular, spool_file_limit
from ._uwsgi import SPOOL_FILE_PREFIX as PREFIX


def spool_files(spool_dir: str) -> Iterator[str]:
    """Every spool file of *spool_dir*, priority directories included (regular files only)."""
    with os.scandir(spool_dir) as entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.is_file(follow_symlinks=False):
                yield entry.path
            elif is_priority_dir(entry.name) and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    for e in inner:
                        if e.name.startswith(PREFIX) and e.is_file(follow_symlinks=False):
                            yield e.path


def check_spool_dir(spool_dir: str) -> None:
    """Raise unless *spool_dir* looks like a spool directory (an empty one does)."""
    if not os.path.isdir(spool_dir):
        raise FileNotFoundError(f"{spool_dir}: no such directory")
    names = os.listdir(spool_dir)
    if names and not any(n.startswith(PREFIX) or is_priority_dir(n) or n == STATE_DIR for n in names):
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


def read_entry(path: str) -> SpoolEntry:
    """What *path* holds; FileNotFoundError if it is gone (or is no regular file), never anything else."""
    entry = _read_entry(path, lambda: os.lstat(path), lambda limit: read_regular(path, limit))
    if entry is None:
        raise FileNotFoundError(errno.ENOENT, "no spool file (or not a regular file)", path)
    return entry


def read_entry_in(directory: StateDir, name: str) -> SpoolEntry | None:
    """`read_entry` for *name* in an open *directory*; None if it isn't a regular file there."""
    return _read_entry(
        os.path.join(directory.path, name),
        lambda: directory.lstat(name),
        lambda limit: directory.read(name, limit),
    )


def _read_entry(
    path: str, lstat: Callable[[], os.stat_result], read: Callable[[int], bytes | None]
) -> SpoolEntry | None:
    try:
        info = lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        data = read(spool_file_limit())
    except DecodeError as e:
        return SpoolEntry(path, info.st_size, info.st_mtime, "invalid", problem=str(e))
    return None if data is None else entry_of(path, info, data)


def entry_of(path: str, info: os.stat_result, data: bytes) -> SpoolEntry:
    """What the spool file *path* (its lstat *info* and contents *data*) holds."""
    try:
        message = _codec.parse_spool_file(data)
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
            data = read_regular(path, spool_file_limit())
            if data is None or needle not in data:
                continue
            entry = read_entry(path)
        except (FileNotFoundError, DecodeError):  # it ran while we looked, or is too large to be ours
            continue
        if entry.task_id == task_id:
            return entry
    return None
