"""The backend Django's tests use inside uWSGI, and the spooler's log records brought back to them.

Django's ImmediateBackend tests assert on the result the moment ``enqueue`` returns. Inside uWSGI
SpoolerBackend returns a READY result and the spooler runs the task later, in another process. So
the tests enqueue through `SettledSpoolerBackend`: SpoolerBackend itself, whose ``enqueue`` then
polls ``TaskResult.refresh()`` (SpoolerBackend's ``get_result``, reading what the spooler recorded)
until the result is finished, and returns that same result object.

Django's signals for the start and the end of a task are sent by the spooler, and Django logs them
there (logger ``django.tasks``). The spooler (`tests.django_conformance.spooler`) writes each such
record to ``$CONFORMANCE_LOGS/<result id>.jsonl`` as it is logged; once the result is finished,
`replay_logs` hands those records to the same loggers here, so the tests' ``assertLogs`` see what
the spooler logged, in order, after the ``enqueued`` record logged here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from typing_extensions import ParamSpec

from uwsgi_tasks.contrib.django import SpoolerBackend
from uwsgi_tasks.contrib.django._framework import Task, TaskResult, TaskResultStatus
from uwsgi_tasks.testing import wait_until

from .runner import LOGS_ENV

P = ParamSpec("P")
R = TypeVar("R")

#: How long a task may take from enqueue to finished (spooled, picked up, run, recorded).
SETTLE_TIMEOUT = 20.0


def logs_dir() -> Path:
    return Path(os.environ[LOGS_ENV])


def logged_by_spooler(result_id: str) -> list[dict[str, Any]]:
    """The records the spooler logged while it ran the task of *result_id*, oldest first."""
    path = logs_dir() / f"{result_id}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def replay_logs(result_id: str) -> None:
    """Log here what the spooler logged for *result_id*, as if it had been logged here."""
    for fields in logged_by_spooler(result_id):
        logger = logging.getLogger(fields["name"])
        if logger.isEnabledFor(fields["levelno"]):
            logger.handle(logging.makeLogRecord({**fields, "args": None}))


def settle(result: TaskResult[Any, Any], timeout: float = SETTLE_TIMEOUT) -> None:
    """Refresh *result* until it is finished (polling SpoolerBackend's ``get_result``)."""

    def finished() -> bool:
        result.refresh()
        return result.is_finished

    wait_until(finished, timeout, message=f"task {result.id} did not finish within {timeout} s")


class SettledSpoolerBackend(SpoolerBackend):
    """SpoolerBackend, whose ``enqueue`` returns once the spooler has finished the task."""

    def enqueue(self, task: Task[P, R], args: Sequence[Any], kwargs: Mapping[str, Any]) -> TaskResult[P, R]:
        result = super().enqueue(task, args, kwargs)
        if result.status != TaskResultStatus.READY or result.is_finished:
            # Not spooled: it ran here, so this run would not test the spooler at all.
            raise AssertionError(f"enqueue() inside uWSGI returned {result.status}, not READY")
        settle(result)
        if not all(worker.startswith("uwsgi-spooler:") for worker in result.worker_ids):
            raise AssertionError(f"task {result.id} was not run by a spooler: {result.worker_ids}")
        replay_logs(result.id)
        return result
