"""JSON views: send tasks, and look at them again by id from any worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from my_project.tasks_framework import (
    InvalidTask,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    default_task_backend,
)
from uwsgi_tasks import TaskHandle, TaskStatus

from . import tasks

DJANGO_TASKS: dict[str, Task[[str], Any]] = {
    "build_report": tasks.build_report,
    "archive_reports": tasks.archive_reports,
    "reindex": tasks.reindex,
    "ping": tasks.ping,
}


def describe(handle: TaskHandle[Any]) -> dict[str, Any]:
    """A uwsgi_tasks handle as JSON: its status is read from the spool directory on every call."""
    status = handle.status
    about: dict[str, Any] = {"id": handle.id, "executor": handle.executor.name, "status": status.value}
    if status is TaskStatus.SUCCEEDED:
        about["result"] = handle.result()
    elif status is TaskStatus.FAILED:
        error = handle.exception()
        about["error"] = error.type_path if error else None
    return about


def signup(request: HttpRequest) -> JsonResponse:
    """Send the welcome email through the spooler and the avatar work to a mule."""
    address = request.GET["email"]
    email = tasks.send_welcome_email.spool(address)  # TaskHandle[int]
    avatar = tasks.resize_avatar.mule(address, 128)  # TaskHandle[str]
    return JsonResponse({"email": describe(email), "avatar": describe(avatar)})


def task_status(request: HttpRequest, task_id: str) -> JsonResponse:
    return JsonResponse(describe(TaskHandle.from_id(task_id)))


def describe_result(result: TaskResult[..., Any]) -> dict[str, Any]:
    """A Django TaskResult as JSON."""
    about: dict[str, Any] = {
        "id": result.id,
        "status": result.status,
        "task": result.task.module_path,
        "priority": result.task.priority,
        "queue_name": result.task.queue_name,
        "run_after": result.task.run_after,
        "args": result.args,
        "kwargs": result.kwargs,
        "enqueued_at": result.enqueued_at,
        "started_at": result.started_at,
        "last_attempted_at": result.last_attempted_at,
        "finished_at": result.finished_at,
        "attempts": result.attempts,
        "worker_ids": result.worker_ids,
        "errors": [
            {"exception_class_path": e.exception_class_path, "traceback": e.traceback} for e in result.errors
        ],
    }
    if result.status == "SUCCESSFUL":
        about["return_value"] = result.return_value
    return about


def enqueue_report(request: HttpRequest) -> JsonResponse:
    """Enqueue one of DJANGO_TASKS with Django's API: ?task=build_report&arg=...&priority=10&delay=60."""
    task = DJANGO_TASKS[request.GET["task"]]
    try:
        if "priority" in request.GET:
            task = task.using(priority=int(request.GET["priority"]))
        if "delay" in request.GET:
            task = task.using(run_after=timezone.now() + timedelta(seconds=float(request.GET["delay"])))
        result = task.enqueue(request.GET.get("arg", ""))
    except InvalidTask as e:  # what this backend, as configured, can't do
        return JsonResponse({"error": "InvalidTask", "message": str(e)}, status=400)
    return JsonResponse(describe_result(result))


def backend(request: HttpRequest) -> JsonResponse:
    """What the tasks backend says it supports, in this uWSGI instance."""
    features = ("supports_defer", "supports_async_task", "supports_get_result", "supports_priority")
    return JsonResponse({name: getattr(default_task_backend, name) for name in features})


def report_status(request: HttpRequest, result_id: str) -> JsonResponse:
    try:
        result = default_task_backend.get_result(result_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "TaskResultDoesNotExist", "id": result_id}, status=404)
    return JsonResponse(describe_result(result))
