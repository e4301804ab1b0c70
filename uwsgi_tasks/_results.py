"""Where outcomes are kept: files beside the spool files (``.uwsgi_tasks/results/``, see `_spooldir`),
or a shared store every host sees.

Each record is written whole under a fresh name and renamed into place, so a reader sees a whole
record or none; a record that can't be written whole raises (the spooler then keeps the task's
file, to try again). With a secret, records and notes are signed and bound to their task id, and a
record that doesn't verify is no record.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Final, Protocol

from . import _codec, _config
from ._config import result_ttl
from ._exceptions import DecodeError
from ._outcome import Outcome
from ._spooldir import StateDir, prune, read_regular, state_dir, write_private


def record_limit() -> int:
    """The largest record read: a few hundred bytes, and a value limited like a task."""
    return _config.max_task_size() + 0x10000


def file_store(spool_dir: str) -> FileResultStore:
    """The store of *spool_dir* (one object per directory and process)."""
    store = _file_stores.get(spool_dir)
    if store is None:
        store = _file_stores[spool_dir] = FileResultStore(spool_dir)
    return store


def store_for(spool_dir: str) -> ResultStore:
    """Where the outcomes of *spool_dir*'s tasks are kept: the shared store if one is configured,
    else the files beside the directory."""
    return shared() or file_store(spool_dir)


_shared: tuple[int, SharedStore | None] = (-1, None)


def shared() -> SharedStore | None:
    """The store shared by every host (``configure(result_store=...)``), or None."""
    global _shared
    generation, store = _shared
    if generation != _config.generation():
        url = _config.result_store_url()
        if url is None:
            store = None
        elif store is None or store.url != url:
            from ._redis import RedisResultStore

            store = RedisResultStore(url)
        _shared = (_config.generation(), store)
    return store


def at_location(location: str | None) -> ResultStore | None:
    """The store a handle names (see `location`): a spool directory, "" for this process's in-place
    outcomes, or a shared store's URL, which must be this process's own shared store (a handle that
    travelled in a task never makes us connect anywhere else)."""
    if location is None:
        return None
    if not location:
        return IN_PROCESS
    if "://" in location:
        store = shared()
        return store if store is not None and store.url == location else None
    return file_store(location)


def location(store: ResultStore | None) -> str | None:
    if store is None:
        return None
    if isinstance(store, FileResultStore):
        return store.spool_dir
    url: str = getattr(store, "url", "")  # a shared store's; in-place outcomes have none
    return url


class ResultStore(Protocol):
    """Keeps the outcome of each task by task id. Writers and readers may be different processes.

    *shared* stores are seen by every host: a task's record there is its state even where its
    spool file is out of sight (sent to another host's spooler).
    """

    @property
    def shared(self) -> bool: ...

    def put(self, outcome: Outcome) -> None: ...

    def get(self, task_id: str) -> Outcome | None: ...

    def version(self) -> object:
        """A value that changes whenever an outcome is put: waiters re-read records only then."""
        ...

    def put_note(self, task_id: str, kind: str, data: bytes) -> None: ...

    def get_note(self, task_id: str, kind: str) -> bytes | None: ...


class SharedStore(ResultStore, Protocol):
    """A store every host sees; it also carries tasks too large to send (see `_targets`)."""

    @property
    def url(self) -> str: ...

    def discard(self, outcome: Outcome) -> None: ...

    def forget(self, task_id: str) -> None: ...

    def put_payload(self, task_id: str, data: bytes, ttl: float) -> None: ...

    def get_payload(self, task_id: str) -> bytes | None: ...

    def discard_payload(self, task_id: str) -> None: ...


def readable(record: bytes | None, task_id: str) -> Outcome | None:
    """The outcome of *task_id* in a stored *record*; None when there is none, or it can't be read
    (every store treats a damaged, forged or misplaced record as no record)."""
    if record is None:
        return None
    try:
        return _codec.decode_outcome(record, task_id)
    except DecodeError:
        return None


def checked_id(task_id: str) -> str:
    if not task_id or not task_id.isalnum() or not task_id.isascii():
        raise ValueError(f"not a task id: {task_id!r}")
    return task_id


_file_stores: dict[str, FileResultStore] = {}


class FileResultStore:
    """Outcome records as files under ``<spool dir>/.uwsgi_tasks/results/``."""

    shared = False

    def __init__(self, spool_dir: str) -> None:
        self.spool_dir = spool_dir
        self.root = os.path.join(state_dir(spool_dir), "results")
        self._fd: int | None = None
        self._fd_pid = 0

    def path_of(self, task_id: str) -> str:
        """The file of *task_id*'s record (ValueError if it is not a task id)."""
        return f"{self.root}/{checked_id(task_id)}"

    def put(self, outcome: Outcome) -> None:
        """Write *outcome* whole, or raise (OSError: a full disk, a directory that is not ours)."""
        self._write(self.path_of(outcome.task_id), _codec.encode_outcome(outcome))
        # Records older than the TTL are removed by whoever writes records.
        prune(self.spool_dir, "results", time.time() - result_ttl(), throttled=True)

    def put_note(self, task_id: str, kind: str, data: bytes) -> None:
        """Keep *data* beside the task's record (an integration's own facts about the task, e.g. what
        Django's TaskResult needs); it expires with the records."""
        self._write(f"{self.path_of(task_id)}.{kind}", _codec.seal_note(task_id, kind, data))

    def get_note(self, task_id: str, kind: str) -> bytes | None:
        stored = read_regular(f"{self.path_of(task_id)}.{kind}", _config.max_task_size())
        return None if stored is None else _codec.open_note(task_id, kind, stored)

    def _write(self, final: str, data: bytes) -> None:
        """Write *final* (a name in the results directory) whole, through the directory's descriptor:
        the directory opened and checked once, so swapping it for a symlink later redirects nothing
        (an operator's ``cancel`` runs as root)."""
        name = os.path.basename(final)
        try:
            write_private(name, data, 0o640, dir_fd=self._directory())
        except FileNotFoundError:  # the directory was removed since: open it again, once
            self._fd = None
            write_private(name, data, 0o640, dir_fd=self._directory())

    def _directory(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            results = StateDir(self.spool_dir, "results", create=True)
            self._fd, self._fd_pid = results.fd, os.getpid()  # kept open for the process's life
        return self._fd

    def prune(self, before: float) -> int:
        """Remove the records last written before unix time *before*; how many were removed."""
        return prune(self.spool_dir, "results", before)

    def version(self) -> object:
        try:
            return os.stat(self.root).st_mtime_ns  # every record is renamed into this directory
        except FileNotFoundError:
            return None

    def get(self, task_id: str) -> Outcome | None:
        try:
            stored = read_regular(self.path_of(task_id), record_limit())
        except DecodeError:
            return None
        return readable(stored, task_id)

    def __repr__(self) -> str:
        return f"<FileResultStore {self.root}>"


class MemoryResultStore:
    """Outcomes of tasks run in place, kept in this process (the newest *size* of them)."""

    shared = False

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._notes: OrderedDict[tuple[str, str], bytes] = OrderedDict()
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

    def put_note(self, task_id: str, kind: str, data: bytes) -> None:
        with self._lock:
            self._notes[task_id, kind] = data
            while len(self._notes) > self.size:
                self._notes.popitem(last=False)

    def get_note(self, task_id: str, kind: str) -> bytes | None:
        with self._lock:
            return self._notes.get((task_id, kind))

    def __repr__(self) -> str:
        return f"<MemoryResultStore {len(self._outcomes)} outcomes>"


#: Where in-place runs record their outcomes, so a handle that travelled as a value finds them.
IN_PROCESS: Final = MemoryResultStore()
