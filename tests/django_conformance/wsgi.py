"""The conformance instance's application, loaded in the master before the fork.

``/run`` runs Django's ``tasks`` tests in the worker that takes the request (`runner.run`), with the
spooler running the tasks; ``/keyboard-interrupt`` enqueues Django's KeyboardInterrupt test task
and reports how it ended. Both answer JSON. ``$CONFORMANCE_TESTS`` is the directory holding the
substituted copy of Django's ``tasks`` package (also on the instance's ``pythonpath``).
"""

from __future__ import annotations

import importlib
import json
import os
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import django

from .runner import NOT_APPLICABLE_IN_UWSGI, SETTINGS, TESTS_ENV, run

os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
django.setup()

import uwsgi  # noqa: E402 -- only inside uWSGI

import uwsgi_tasks.contrib.django  # noqa: E402, F401 -- the backend and its task, before the fork
from uwsgi_tasks import TaskHandle  # noqa: E402
from uwsgi_tasks.testing import wait_until  # noqa: E402

from . import blocking  # noqa: E402 -- its task, registered before the fork
from .backends import logged_by_spooler, settle  # noqa: E402

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def keyboard_interrupt() -> dict[str, Any]:
    """Django's ``failing_task_keyboard_interrupt`` enqueued through SpoolerBackend (plain, not
    settled: the default backend of the settings), followed to its end; then a second task, to show
    the same spooler goes on. What the worker and the spooler saw."""
    test_tasks = importlib.import_module("tasks.tasks")
    spoolers_before = uwsgi.spooler_pids()
    result = test_tasks.failing_task_keyboard_interrupt.enqueue()
    enqueued = str(result.status)
    settle(result)
    after = test_tasks.calculate_meaning_of_life.enqueue()
    settle(after)
    result.refresh()  # once more: nothing changed it while the second task ran
    handle = TaskHandle.from_id(result.id)
    return {
        "enqueued_status": enqueued,
        "status": str(result.status),
        "attempts": result.attempts,
        "worker_ids": result.worker_ids,
        "errors": [
            {"exception_class_path": e.exception_class_path, "traceback": e.traceback} for e in result.errors
        ],
        "handle_status": handle.status.name,
        "handle_attempt": handle.attempt,
        "logged": logged_by_spooler(result.id),
        "spooler_pids_before": spoolers_before,
        "spooler_pids_after": uwsgi.spooler_pids(),
        "next_task": {"status": str(after.status), "return_value": after.return_value},
    }


def while_running(flag: str) -> dict[str, Any]:
    """A task's result read while the spooler runs it, then once it finished."""
    result = blocking.wait_for.enqueue(flag)

    def running() -> bool:
        result.refresh()
        return str(result.status) == "RUNNING"

    wait_until(running, 10)
    seen = {
        "status": str(result.status),
        "attempts": result.attempts,
        "started_at": None if result.started_at is None else result.started_at.timestamp(),
        "last_attempted_at": None
        if result.last_attempted_at is None
        else result.last_attempted_at.timestamp(),
    }
    Path(flag).touch()
    settle(result)
    assert result.finished_at is not None
    return {"running": seen, "status": str(result.status), "finished_at": result.finished_at.timestamp()}


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    status = "200 OK"
    try:
        if path == "/run":
            body: Any = run(Path(os.environ[TESTS_ENV]), not_applicable=NOT_APPLICABLE_IN_UWSGI)
        elif path == "/keyboard-interrupt":
            body = keyboard_interrupt()
        elif path == "/while-running":
            body = while_running(environ["QUERY_STRING"])
        else:
            body = {"ok": True}
    except Exception:
        status, body = "500 Internal Server Error", {"error": traceback.format_exc()}
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
