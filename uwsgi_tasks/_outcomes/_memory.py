"""`MemoryResultStore`: outcomes of tasks run in place, kept in this process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from ._model import Outcome


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
