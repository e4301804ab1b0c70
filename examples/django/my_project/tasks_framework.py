"""Django's tasks framework: ``django.tasks`` on Django >= 6; before, the ``django-tasks`` backport,
which has the same API. (A project on one Django version imports from one of them directly.)"""

from typing import TYPE_CHECKING

import django

if TYPE_CHECKING or django.VERSION >= (6, 0):
    from django.tasks import Task, TaskContext, TaskResult, default_task_backend, task
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
else:
    from django_tasks import TaskContext, TaskResult, default_task_backend, task
    from django_tasks.base import Task
    from django_tasks.exceptions import InvalidTaskError as InvalidTask
    from django_tasks.exceptions import TaskResultDoesNotExist

__all__ = [
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskResult",
    "TaskResultDoesNotExist",
    "default_task_backend",
    "task",
]
