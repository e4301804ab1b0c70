"""The example's tasks: uwsgi_tasks tasks, and tasks of Django's own framework on the spooler backend."""

from __future__ import annotations

import asyncio
from smtplib import SMTPException
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from my_project.tasks_framework import TaskContext
from my_project.tasks_framework import task as django_task
from uwsgi_tasks import RetryPolicy, TaskExecutor, task


# uwsgi_tasks: the 0.7.3 README's use case, with a retry policy and a typed handle.
@task(executor=TaskExecutor.SPOOLER, retry=RetryPolicy(max_attempts=3, delay=5, retry_on=(SMTPException,)))
def send_welcome_email(address: str) -> int:
    """Send the welcome email from the spooler; the number of emails sent."""
    return send_mail("Welcome!", "Thank you for signing up.", "noreply@example.com", [address])


@task(executor=TaskExecutor.MULE)
def resize_avatar(address: str, size: int) -> str:
    """Quick in-memory work for a mule."""
    return f"avatars/{address}-{size}px.png"


# Django's tasks framework (django.tasks), run by uwsgi_tasks.contrib.django.SpoolerBackend.
@django_task
def build_report(day: str) -> dict[str, Any]:
    """Count the welcome emails in the outbox."""
    outbox = settings.EMAIL_FILE_PATH
    sent = sum(1 for path in outbox.iterdir()) if outbox.exists() else 0
    return {"day": day, "emails": sent}


@django_task(queue_name="reports")
def archive_reports(day: str) -> None:
    """Fails, to show how errors are carried: a FAILED result with the exception's class and traceback."""
    raise PermissionError(f"the archive is read-only ({day})")


@django_task(takes_context=True)
def reindex(context: TaskContext[Any, Any], what: str) -> dict[str, Any]:
    """A task that receives its context: the result id and the attempt."""
    return {"what": what, "result_id": context.task_result.id, "attempt": context.attempt}


@django_task
async def ping(host: str) -> str:
    """A coroutine function: the backend runs it to completion in the spooler."""
    await asyncio.sleep(0)
    return f"pong from {host}"
