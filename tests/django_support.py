"""Django for the tests: settings configured once per test process, and the tasks framework's names
(``django.tasks`` on Django >= 6, the ``django-tasks`` backport before)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django
from django.conf import settings

if TYPE_CHECKING or django.VERSION >= (6, 0):
    from django.tasks import Task, TaskResult, TaskResultStatus, default_task_backend, task, task_backends
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist, TaskResultMismatch
    from django.tasks.signals import task_enqueued, task_finished, task_started
else:
    from django_tasks import TaskResult, TaskResultStatus, default_task_backend, task, task_backends
    from django_tasks.base import Task
    from django_tasks.exceptions import InvalidTaskError as InvalidTask
    from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
    from django_tasks.signals import task_enqueued, task_finished, task_started

BACKEND = "uwsgi_tasks.contrib.django.SpoolerBackend"

__all__ = [
    "BACKEND",
    "InvalidTask",
    "Task",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultMismatch",
    "TaskResultStatus",
    "configure",
    "default_task_backend",
    "task",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]


def configure(**tasks_options: Any) -> None:
    """Configure Django once for this process: no database, aware times, our backend as default."""
    if settings.configured:
        return
    settings.configure(
        INSTALLED_APPS=[] if django.VERSION >= (6, 0) else ["django_tasks"],
        USE_TZ=True,
        TASKS={"default": {"BACKEND": BACKEND, **tasks_options}},
    )
    django.setup()
