"""`FileResultStore`: outcome records as files beside the spool files (``.uwsgi_tasks/results/``, a
layout `_spooldir` owns).

Each record is written whole under a fresh name and renamed into place, so a reader sees a whole
record or none; a record that can't be written whole raises (the spooler then keeps the task's
file, to try again). With a secret, records and notes are signed and bound to their task id, and a
record that doesn't verify is no record.
"""

from __future__ import annotations

import os
import time

from .. import _codec, _config
from .._config import result_ttl
from .._exceptions import DecodeError
from .._spooldir import RESULTS, StateDir, prune, read_regular, state_dir, write_private
from ._model import Outcome, checked_id
from ._store import readable, record_limit


class FileResultStore:
    """Outcome records as files under ``<spool dir>/.uwsgi_tasks/results/``."""

    shared = False

    def __init__(self, spool_dir: str) -> None:
        self.spool_dir = spool_dir
        self.root = os.path.join(state_dir(spool_dir), RESULTS)
        self._fd: int | None = None
        self._fd_pid = 0

    def path_of(self, task_id: str) -> str:
        """The file of *task_id*'s record (ValueError if it is not a task id)."""
        return f"{self.root}/{checked_id(task_id)}"

    def put(self, outcome: Outcome) -> None:
        """Write *outcome* whole, or raise (OSError: a full disk, a directory that is not ours)."""
        self._write(self.path_of(outcome.task_id), _codec.encode_outcome(outcome))
        # Records older than the TTL are removed by whoever writes records.
        prune(self.spool_dir, RESULTS, time.time() - result_ttl(), throttled=True)

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
            results = StateDir(self.spool_dir, RESULTS, create=True)
            self._fd, self._fd_pid = results.fd, os.getpid()  # kept open for the process's life
        return self._fd

    def prune(self, before: float) -> int:
        """Remove the records last written before unix time *before*; how many were removed."""
        return prune(self.spool_dir, RESULTS, before)

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
