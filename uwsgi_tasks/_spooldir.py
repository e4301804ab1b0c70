"""Reading a spool directory from any process: its spool files, what each holds, finding a task.

Nothing here executes, imports or unpickles anything from the files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import attrs

from . import _codec
from ._exceptions import DecodeError
from ._results import STATE_DIR

PREFIX = "uwsgi_spoolfile_on_"


def spool_files(spool_dir: str) -> Iterator[str]:
    """Every spool file of *spool_dir*, priority directories included."""
    with os.scandir(spool_dir) as entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.is_file(follow_symlinks=False):
                yield entry.path
            elif entry.name.isdigit() and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    yield from (e.path for e in inner if e.name.startswith(PREFIX) and e.is_file())


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
    with open(path, "rb") as f:
        return _codec.parse_spool_file(f.read())


def read_entry(path: str) -> SpoolEntry:
    """What *path* holds; FileNotFoundError if it is gone, never anything else."""
    stat = os.stat(path)
    try:
        message = read_message(path)
    except DecodeError as e:
        return SpoolEntry(path, stat.st_size, stat.st_mtime, "invalid", problem=str(e))
    if _codec.is_legacy_spool_message(message):
        return SpoolEntry(path, stat.st_size, stat.st_mtime, "legacy", problem="written by uwsgi_tasks 0.7.3")
    if not _codec.is_spool_message(message):
        return SpoolEntry(path, stat.st_size, stat.st_mtime, "foreign", problem="not a uwsgi_tasks task")
    try:
        spec = _codec.spec_tree(message)
    except DecodeError as e:
        return SpoolEntry(path, stat.st_size, stat.st_mtime, "invalid", problem=str(e))
    return SpoolEntry(path, stat.st_size, stat.st_mtime, "task", spec=spec)


def find(spool_dir: str, task_id: str) -> SpoolEntry | None:
    """The spool file of task *task_id* in *spool_dir*, if there is one."""
    needle = task_id.encode()
    for path in spool_files(spool_dir):
        try:
            with open(path, "rb") as f:
                if needle not in f.read():
                    continue
            entry = read_entry(path)
        except FileNotFoundError:  # it ran while we looked
            continue
        if entry.task_id == task_id:
            return entry
    return None
