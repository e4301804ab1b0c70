"""The Flask example: a view sends tasks; another reads their status back by id, in any worker."""

from __future__ import annotations

from typing import Any

import shop_tasks as tasks
from flask import Flask, request, url_for

from uwsgi_tasks import TaskHandle, TaskStatus

app = Flask(__name__)


def describe(handle: TaskHandle[Any]) -> dict[str, Any]:
    about: dict[str, Any] = {"id": handle.id, "status": handle.status.value}
    if handle.status is TaskStatus.SUCCEEDED:
        about["result"] = handle.result()
    about["url"] = url_for("task_status", task_id=handle.id)
    return about


@app.get("/orders/<int:order_id>/confirm")
def confirm_order(order_id: int) -> dict[str, Any]:
    email = tasks.send_confirmation.spool(order_id, request.args["email"])  # TaskHandle[str]
    cache = tasks.warm_cache.mule(f"order:{order_id}")  # TaskHandle[int]
    return {"email": describe(email), "cache": describe(cache)}


@app.get("/tasks/<task_id>")
def task_status(task_id: str) -> dict[str, Any]:
    return describe(TaskHandle.from_id(task_id))
