"""Durable starts: the tasks a spool directory's spoolers began and never finished, and the tasks that
ran without leaving a record.

Right before a spooler calls a task it writes ``.uwsgi_tasks/started/<task id>``, holding how many
starts of that task never ended, and every ordinary end removes it. A marker found at a start means
the process died inside the task (SIGKILL, the OOM killer, a segfault, ``spooler-harakiri``): uWSGI
keeps the file and runs it again as if nothing happened, so each death counts as an attempt here
(see `deaths_allowed`), and a task that keeps killing its spooler ends FAILED instead of running for
ever.

A task with ``store_result=False`` that succeeded writes no record; its marker moves to
``.uwsgi_tasks/done/<task id>`` instead, so that a copy of its spool file put back later is known to
have run (see `_spooler`). Both kinds of marker are removed after the result TTL, like records.
With a secret, a marker's count is signed: a forged one counts nothing.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Final

from . import _codec
from ._config import result_ttl
from ._spooldir import is_regular, read_regular, state_subdir, write_private

logger = logging.getLogger("uwsgi_tasks")

#: Deaths a task without a retry policy survives: it runs this many times in all, then fails.
DEFAULT_DEATHS: Final = 3
_PRUNE_EVERY: Final = 60.0
_pruned: dict[str, float] = {}


def deaths_allowed(max_attempts: int | None) -> int:
    """Runs in all a task may have when its process keeps dying: its policy's *max_attempts*, or
    `DEFAULT_DEATHS` without a policy."""
    return DEFAULT_DEATHS if max_attempts is None else max_attempts


def begin(spool_dir: str, task_id: str) -> int:
    """Note durably that *task_id* starts now; how many earlier starts of it died.

    Raises OSError when the note can't be written: the task must not run then (a death would go
    uncounted).
    """
    path = os.path.join(state_subdir(spool_dir, "started"), task_id)
    deaths = _count(path, task_id)
    write_private(path, _codec.seal_start(task_id, b"%d" % (deaths + 1)))
    return deaths


def _count(path: str, task_id: str) -> int:
    stored = read_regular(path, 1024)
    if stored is None:
        return 0
    data = _codec.open_start(task_id, stored)
    if data is None or not data.isdigit() or len(data) > 7:
        logger.warning("task %s: ignoring a start marker that is not ours: %r", task_id, stored[:80])
        return 0
    return int(data)


def end(spool_dir: str, task_id: str, *, silently_done: bool = False) -> None:
    """The task's start ended without its process dying; *silently_done*: it succeeded and wrote no
    record, so keep that it ran."""
    started = os.path.join(spool_dir, ".uwsgi_tasks", "started", task_id)
    try:
        if silently_done:
            os.rename(started, os.path.join(state_subdir(spool_dir, "done"), task_id))
        else:
            os.unlink(started)
    except FileNotFoundError:
        pass
    except OSError as e:  # the next start of this task would count a death that wasn't one
        logger.error("task %s: can't remove its start marker: %s", task_id, e)
    _prune(spool_dir)


def started_at(spool_dir: str, task_id: str) -> float | None:
    """When the running start of *task_id* began, if one is running (or died) here."""
    try:
        return os.lstat(os.path.join(spool_dir, ".uwsgi_tasks", "started", task_id)).st_mtime
    except OSError:
        return None


def ran_silently(spool_dir: str, task_id: str) -> bool:
    """Whether *task_id* succeeded here without a record (``store_result=False``), within the TTL."""
    return is_regular(os.path.join(spool_dir, ".uwsgi_tasks", "done", task_id))


def _prune(spool_dir: str) -> None:
    now = time.monotonic()
    if now - _pruned.get(spool_dir, -_PRUNE_EVERY) < _PRUNE_EVERY:
        return
    _pruned[spool_dir] = now
    before = time.time() - result_ttl()
    for kind in ("started", "done"):
        try:
            with os.scandir(os.path.join(spool_dir, ".uwsgi_tasks", kind)) as entries:
                for entry in entries:
                    try:
                        if entry.stat(follow_symlinks=False).st_mtime < before:
                            os.unlink(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
