"""A spool directory as people see it: the rows ``list`` shows (queued, scheduled, running, set
aside), one task's details (its arguments, outcome and why it was set aside), and the set-aside files
with their reasons. Reads only: values are rendered as text, never imported, unpickled or run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from . import _codec, _spooldir, _spoolfiles
from ._exceptions import DecodeError
from ._handle import TaskHandle
from ._outcomes._files import FileResultStore
from ._outcomes._model import checked_id
from ._outcomes._observe import observe
from ._outcomes._store import record_limit
from ._spoolfiles import SpoolEntry

Row = dict[str, Any]


def _when(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None
    try:
        return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _row(entry: SpoolEntry, status: str, reason: str = "") -> Row:
    spec = entry.spec or {}
    return {
        "task_id": _text(spec.get("task_id")),
        "function": _text(spec.get("function")),
        "status": status,
        "attempt": spec.get("attempt") if isinstance(spec.get("attempt"), int) else None,
        "at": _when(spec.get("at")),
        "size": entry.size,
        "file": entry.path,
        "reason": reason or entry.problem,
    }


def _queued(spool_dir: str, store: FileResultStore) -> Iterator[Row]:
    for path in _spoolfiles.spool_files(spool_dir):
        try:
            entry = _spoolfiles.read_entry(path)
            row = _row(entry, entry.kind)
            if entry.kind == "task" and row["task_id"].isalnum() and row["task_id"].isascii():
                seen = observe(row["task_id"], store, path, row["attempt"] or 1)
                row["status"] = seen.status.value
        except FileNotFoundError:  # it ran while we looked
            continue
        yield row


@contextlib.contextmanager
def state_dir(spool_dir: str, name: _spooldir.Area) -> Iterator[_spooldir.StateDir | None]:
    """A state directory of *spool_dir*, open (see `_spooldir.StateDir`); None if there is none."""
    try:
        directory = _spooldir.StateDir(spool_dir, name)
    except FileNotFoundError:
        yield None
        return
    with directory:
        yield directory


def set_aside_files(aside: _spooldir.StateDir | None) -> Iterator[tuple[str, SpoolEntry, str]]:
    """The set-aside spool files: name, what it holds, and why it was set aside."""
    if aside is None:
        return
    for name in _spooldir.set_aside_names(aside):
        entry = _spoolfiles.read_entry_in(aside, name)
        if entry is not None:
            yield name, entry, _spooldir.reason_for(aside, name)


def rows(spool_dir: str) -> list[Row]:
    """One row per task of *spool_dir*: its spool files with their status, then the set-aside ones."""
    found = list(_queued(spool_dir, FileResultStore(spool_dir)))
    with state_dir(spool_dir, _spooldir.SET_ASIDE) as aside:
        found += [_row(entry, "failed", reason) for _, entry, reason in set_aside_files(aside)]
    return found


def find(spool_dir: str, task_id: str) -> tuple[str | None, SpoolEntry | None, str]:
    """The spool file (queued, or set aside) of *task_id*, its content, and why it was set aside."""
    found = _spoolfiles.find(spool_dir, task_id)
    if found is not None:
        return found.path, found, ""
    with state_dir(spool_dir, _spooldir.SET_ASIDE) as aside:
        for _, entry, reason in set_aside_files(aside):
            if entry.task_id == task_id:
                return entry.path, entry, reason
    return None, None, ""


def outcome_record(spool_dir: str, task_id: str) -> dict[str, Any] | None:
    """The outcome record of *task_id* as plain JSON (its value left encoded), or None."""
    with state_dir(spool_dir, _spooldir.RESULTS) as results:
        try:
            stored = None if results is None else results.read(checked_id(task_id), record_limit())
            return None if stored is None else _codec.outcome_tree(stored)
        except (DecodeError, ValueError, RecursionError):
            return None


def details(spool_dir: str, task_id: str) -> Row:
    """Everything known of *task_id* in *spool_dir*; LookupError if nothing is."""
    path, entry, reason = find(spool_dir, task_id)
    record = outcome_record(spool_dir, task_id)
    if entry is None and record is None:
        raise LookupError(f"no task {task_id} in {spool_dir}")
    handle = TaskHandle.from_id(task_id, spool_dir)
    status = "failed" if reason else handle.status.value
    spec = entry.spec if entry is not None and entry.spec else {}
    args, kwargs = _call(spec) if spec else (None, None)
    details: Row = {
        "task_id": task_id,
        "status": status,
        "file": path,
        "function": _text(spec.get("function")) or handle.function,
        "attempt": spec.get("attempt"),
        "at": _when(spec.get("at")),
        "args": args,
        "kwargs": kwargs,
        "retry": spec.get("retry"),
        "priority": spec.get("priority"),
        "reason": reason,
    }
    if record is not None:
        details["outcome"] = {
            "status": record.get("status"),
            "attempts": record.get("attempts"),
            "finished": _when(record.get("finished_at")),
            "value": rendered(record["value"]) if record.get("has_value") else None,
            "error": record.get("error"),
        }
    return details


def _call(spec: dict[str, Any]) -> tuple[str, str]:
    try:
        return _codec.render_call(spec)
    except RecursionError:
        return "<nested too deeply to show>", ""


def rendered(tree: Any) -> str:
    """An encoded value as text for people (see `_codec.render_value`)."""
    try:
        return _codec.render_value(tree)
    except RecursionError:
        return "<nested too deeply to show>"
