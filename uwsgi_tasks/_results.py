"""Where outcomes are kept: a directory beside the spool files that the spooler never scans.

uWSGI only looks at ``uwsgi_spoolfile_on_*`` files and, with ``--spooler-ordered``, numeric
directories; ``<spool dir>/.uwsgi_tasks/`` is neither. Each record is written to a temporary name and
renamed into place, so a reader sees a whole record or none.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Final, Protocol

from . import _codec
from ._exceptions import DecodeError
from ._outcome import Outcome

STATE_DIR: Final = ".uwsgi_tasks"


class ResultStore(Protocol):
    """Keeps the outcome of each task by task id. Writers and readers may be different processes."""

    def put(self, outcome: Outcome) -> None: ...

    def get(self, task_id: str) -> Outcome | None: ...


def state_dir(spool_dir: str) -> str:
    return os.path.join(spool_dir, STATE_DIR)


def _checked_id(task_id: str) -> str:
    if not task_id or not task_id.isalnum() or not task_id.isascii():
        raise ValueError(f"not a task id: {task_id!r}")
    return task_id


class FileResultStore:
    """Outcome records as files under ``<spool dir>/.uwsgi_tasks/results/``."""

    def __init__(self, spool_dir: str) -> None:
        self.spool_dir = spool_dir
        self.root = os.path.join(state_dir(spool_dir), "results")

    def _path(self, task_id: str) -> str:
        return os.path.join(self.root, _checked_id(task_id))

    def put(self, outcome: Outcome) -> None:
        data = _codec.encode_outcome(outcome)
        os.makedirs(self.root, mode=0o750, exist_ok=True)
        final = self._path(outcome.task_id)
        temporary = f"{final}.{os.getpid()}.tmp"
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, final)

    def get(self, task_id: str) -> Outcome | None:
        try:
            with open(self._path(task_id), "rb") as f:
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

    def put(self, outcome: Outcome) -> None:
        with self._lock:
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
