"""What a result store is: the `ResultStore` protocol every store follows, the `SharedStore` one a
store every host sees adds, and how a stored record is read back (`readable`)."""

from __future__ import annotations

from typing import Protocol

from .. import _codec, _config
from .._exceptions import DecodeError
from ._model import Outcome


def record_limit() -> int:
    """The largest record read: a few hundred bytes, and a value limited like a task."""
    return _config.max_task_size() + 0x10000


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
