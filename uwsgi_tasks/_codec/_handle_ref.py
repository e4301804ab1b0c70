"""A task handle as a value: a task may return one (chaining), so a handle travels as its ids.

The handle class lives above the codec (it reads spool directories and result stores); it maps its
slots to and from a `HandleRef`, and `register_handle` carries it as the ``$handle`` tag::

    {"$handle": [task_id, function, executor, spool_file, attempt, store, silent]}

*executor* is a `TaskExecutor` name; *store* says where outcomes are recorded (a spool directory,
"" for outcomes of tasks run in place, a shared store's URL, or null for nowhere); *silent* is a task
sent with ``store_result=False``. Whoever wrote the message chose every item, so a handle read from
one is checked as hostile input.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

from .._exceptions import DecodeError
from .._options import TaskExecutor
from .._uwsgi import SPOOL_FILE_PREFIX
from ._values import JSON, register_type

H = TypeVar("H")

TAG: Final = "$handle"


@attrs.frozen
class HandleRef:
    """What a travelling handle holds: its task, where it was sent, and where its outcome is recorded."""

    task_id: str
    function: str
    executor: TaskExecutor
    spool_file: str | None
    attempt: int
    store: str | None
    silent: bool


def is_spool_file(path: object) -> bool:
    """Whether *path* names a spool file: absolute, uWSGI's prefix, nothing odd in it."""
    return (
        type(path) is str
        and os.path.isabs(path)
        and os.path.basename(path).startswith(SPOOL_FILE_PREFIX)
        and "\x00" not in path
    )


def _to_json(ref: HandleRef) -> JSON:
    return [ref.task_id, ref.function, ref.executor.name, ref.spool_file, ref.attempt, ref.store, ref.silent]


def _from_json(tree: Any) -> HandleRef:
    """The handle in a ``$handle`` tag, checked: its spool file is one of ours by name, its store a
    directory or URL, never relative."""
    task_id, function, executor, spool_file, attempt, store, silent = tree
    valid = (
        type(task_id) is str
        and task_id.isascii()
        and task_id.isalnum()
        and type(function) is str
        and executor in TaskExecutor.__members__
        and (spool_file is None or is_spool_file(spool_file))
        and type(attempt) is int
        and attempt >= 1
        and (store is None or (type(store) is str and (not store or "://" in store or os.path.isabs(store))))
        and type(silent) is bool
    )
    if not valid:
        raise DecodeError(f"not a task handle: {tree!r:.200}")
    return HandleRef(task_id, function, TaskExecutor[executor], spool_file, attempt, store, silent)


def register_handle(
    cls: type[H], to_ref: Callable[[H], HandleRef], from_ref: Callable[[HandleRef], H]
) -> None:
    """Carry instances of *cls* (exactly) as the ``$handle`` tag of the `HandleRef` *to_ref* makes;
    *from_ref* makes one back from a `HandleRef` read and checked."""
    register_type(cls, TAG, lambda handle: _to_json(to_ref(handle)), lambda tree: from_ref(_from_json(tree)))
