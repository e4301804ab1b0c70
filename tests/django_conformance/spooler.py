"""Imported by the conformance instance's spooler (``spooler-import``): Django set up, Django's test
tasks imported, and every record the ``django.tasks`` logger logs while a task runs written to
``$CONFORMANCE_LOGS/<result id>.jsonl`` (see `tests.django_conformance.backends`)."""

from __future__ import annotations

import json
import logging

from uwsgi_tasks import django_setup, get_current_task

from .backends import logs_dir
from .runner import SETTINGS

django_setup(SETTINGS)

import tasks.tasks  # type: ignore[import-not-found]  # noqa: E402, F401 -- Django's test tasks

import uwsgi_tasks.contrib.django  # noqa: E402, F401 -- the backend's task, after the setup


class ForwardRecords(logging.Handler):
    """Appends each record logged during a task to the file of the task's result id."""

    def emit(self, record: logging.LogRecord) -> None:
        current = get_current_task()
        if current is None:
            return
        exc_text = record.exc_text
        if exc_text is None and record.exc_info is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
        line = {
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "msg": record.getMessage(),
            "exc_text": exc_text,
            "process": record.process,
            "processName": "uwsgi-spooler",
        }
        with open(logs_dir() / f"{current.id}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")


_logger = logging.getLogger("django.tasks")
_logger.setLevel(logging.DEBUG)  # everything: the tests' assertLogs filter by level where they replay
_logger.addHandler(ForwardRecords())
