"""The demo's WSGI app: /send sends tasks; /status reports their handles, read from the world."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import tasks

from uwsgi_tasks import TaskHandle, TaskStatus

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# The demo runs one worker, so the handles it made are here for /status.
handles: dict[str, TaskHandle[Any]] = {}


def send() -> list[dict[str, Any]]:
    sent: list[tuple[str, TaskHandle[Any]]] = [
        ("send_email.spool", tasks.send_email.spool("ada@example.com", "Welcome!")),
        (
            "send_email.options(at=+2s).spool",
            tasks.send_email.options(at=timedelta(seconds=2)).spool("bob@example.com", "Later"),
        ),
        ("thumbnail.mule", tasks.thumbnail.mule("cat.png", 128)),
        ("nightly_report.spool", tasks.nightly_report.spool("2026-11-26")),
    ]
    for _, handle in sent:
        handles[handle.id] = handle
    return [{"call": call, **describe(handle)} for call, handle in sent]


def describe(handle: TaskHandle[Any]) -> dict[str, Any]:
    status = handle.status
    about: dict[str, Any] = {
        "id": handle.id,
        "function": handle.function,
        "executor": handle.executor.name,
        "spool_file": handle.spool_file,
        "status": status.value,
        "attempt": handle.attempt,
    }
    if status is TaskStatus.SUCCEEDED:
        about["result"] = handle.result()
    elif status is TaskStatus.FAILED:
        error = handle.exception()
        about["error"] = f"{error.type_path}: {error.message}" if error else None
    return about


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if environ["PATH_INFO"] == "/send":
        body: Any = send()
    elif environ["PATH_INFO"] == "/status":
        body = [describe(handles[i]) for i in query.get("id", [])]
    else:
        body = {"ok": True}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
