"""Where outcomes are kept: a directory beside the spool files that the spooler never scans.

uWSGI only looks at ``uwsgi_spoolfile_on_*`` files and, with ``--spooler-ordered``, numeric
directories; ``<spool dir>/.uwsgi_tasks/`` is neither. Each record is written to a temporary name and
renamed into place, so a reader sees a whole record or none.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Final, Protocol

from . import _codec
from ._config import result_ttl
from ._exceptions import DecodeError
from ._outcome import Outcome

STATE_DIR: Final = ".uwsgi_tasks"

# Records older than the TTL are removed by whoever writes records, at most this often per process.
_PRUNE_EVERY: Final = 60.0
_pruned: dict[str, float] = {}
_WRITE: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def file_store(spool_dir: str) -> FileResultStore:
    """The store of *spool_dir* (one object per directory and process)."""
    store = _file_stores.get(spool_dir)
    if store is None:
        store = _file_stores[spool_dir] = FileResultStore(spool_dir)
    return store


class ResultStore(Protocol):
    """Keeps the outcome of each task by task id. Writers and readers may be different processes."""

    def put(self, outcome: Outcome) -> None: ...

    def get(self, task_id: str) -> Outcome | None: ...

    def version(self) -> object:
        """A value that changes whenever an outcome is put: waiters re-read records only then."""
        ...


def state_dir(spool_dir: str) -> str:
    return os.path.join(spool_dir, STATE_DIR)


def _checked_id(task_id: str) -> str:
    if not task_id or not task_id.isalnum() or not task_id.isascii():
        raise ValueError(f"not a task id: {task_id!r}")
    return task_id


_file_stores: dict[str, FileResultStore] = {}


class FileResultStore:
    """Outcome records as files under ``<spool dir>/.uwsgi_tasks/results/``."""

    def __init__(self, spool_dir: str) -> None:
        self.spool_dir = spool_dir
        self.root = f"{spool_dir}/{STATE_DIR}/results"

    def path_of(self, task_id: str) -> str:
        """The file of *task_id*'s record (ValueError if it is not a task id)."""
        return f"{self.root}/{_checked_id(task_id)}"

    def put(self, outcome: Outcome) -> None:
        self._write(self.path_of(outcome.task_id), _codec.encode_outcome(outcome))
        now = time.monotonic()
        if now - _pruned.get(self.root, -_PRUNE_EVERY) >= _PRUNE_EVERY:
            _pruned[self.root] = now
            self.prune(time.time() - result_ttl())

    def put_note(self, task_id: str, kind: str, data: bytes) -> None:
        """Keep *data* beside the task's record (an integration's own facts about the task, e.g. what
        Django's TaskResult needs); it expires with the records."""
        self._write(f"{self.path_of(task_id)}.{kind}", data)

    def get_note(self, task_id: str, kind: str) -> bytes | None:
        try:
            with open(f"{self.path_of(task_id)}.{kind}", "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, final: str, data: bytes) -> None:
        temporary = f"{final}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(temporary, _WRITE, 0o640)
        except FileNotFoundError:  # the first record of this directory
            os.makedirs(self.root, mode=0o750, exist_ok=True)
            fd = os.open(temporary, _WRITE, 0o640)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(temporary, final)  # readers see the whole record or the previous one

    def prune(self, before: float) -> int:
        """Remove the records last written before unix time *before*; how many were removed."""
        removed = 0
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.stat().st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def version(self) -> object:
        try:
            return os.stat(self.root).st_mtime_ns  # every record is renamed into this directory
        except FileNotFoundError:
            return None

    def get(self, task_id: str) -> Outcome | None:
        try:
            with open(self.path_of(task_id), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        try:
            return _codec.decode_outcome(data)
        except DecodeError:
            return None

    def __repr__(self) -> str:
        return f"<FileResultStore {self.root}>"


class MemoryResultStore:
    """Outcomes of tasks run in place, kept in this process (the newest *size* of them)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._lock = threading.Lock()
        self._puts = 0

    def version(self) -> object:
        return self._puts

    def put(self, outcome: Outcome) -> None:
        with self._lock:
            self._puts += 1
            self._outcomes[outcome.task_id] = outcome
            self._outcomes.move_to_end(outcome.task_id)
            while len(self._outcomes) > self.size:
                self._outcomes.popitem(last=False)

    def get(self, task_id: str) -> Outcome | None:
        with self._lock:
            return self._outcomes.get(task_id)

    def __repr__(self) -> str:
        return f"<MemoryResultStore {len(self._outcomes)} outcomes>"


#: Where in-place runs record their outcomes, so a handle that travelled as a value finds them.
IN_PROCESS: Final = MemoryResultStore()
