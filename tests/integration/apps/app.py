"""The WSGI app the integration tests drive over HTTP (127.0.0.1 only).

GET /call?q=<json> sends a task from this worker: {"task", "module", "via", "args", "kwargs",
"options", "payload", "wait"}; the answer describes the handle (with "wait": its result, waited for
that many seconds), or the error the call raised.
GET /info describes this uWSGI instance.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import uwsgi

if os.environ.get("UT_FOREIGN_HOOKS"):
    # Another library's spooler callable and mule hook, installed before uwsgi_tasks: they must keep
    # receiving the messages that are not uwsgi_tasks'.
    def _foreign_spooler(env: dict[Any, bytes]) -> int:
        with open(os.path.join(os.environ["UT_RESULTS"], "foreign-spooler.jsonl"), "a") as f:
            f.write(json.dumps({"keys": sorted(str(k) for k in env)}) + "\n")
        return uwsgi.SPOOL_OK

    def _foreign_mule_hook(message: bytes) -> None:
        with open(os.path.join(os.environ["UT_RESULTS"], "foreign-mule.jsonl"), "a") as f:
            f.write(json.dumps({"message": message.decode()}) + "\n")

    uwsgi.spooler = _foreign_spooler
    uwsgi.mule_msg_hook = _foreign_mule_hook

import uwsgi_tasks  # after the foreign hooks, on purpose
from tests.integration.apps import itasks

if os.environ.get("UT_TRUST_LEGACY"):
    uwsgi_tasks.configure(trust_legacy_pickles=True)
# The task modules a request imports in a worker (the spooler and mules never imported them): declared,
# so that the spooler may import them for an unsigned task. lazy_tasks, import_trap and
# exits_at_import are left out on purpose: tests show what happens to undeclared modules.
_DECLARED = [f"tests.integration.apps.{name}" for name in ("retry_tasks", "remote_tasks", "late_eager_tasks")]
uwsgi_tasks.configure(
    task_modules=_DECLARED + [m for m in os.environ.get("UT_TASK_MODULES", "").split(",") if m]
)
if os.environ.get("UT_MAX_TASK_SIZE"):
    uwsgi_tasks.configure(max_task_size=int(os.environ["UT_MAX_TASK_SIZE"]))
if os.environ.get("UT_SIGNALS"):
    from tests.integration.apps import signal_tasks
if os.environ.get("UT_EXHAUST"):
    from tests.integration.apps import exhaust_tasks  # noqa: F401 -- imported for its side effects

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _options(raw: dict[str, Any]) -> dict[str, Any]:
    options = dict(raw)
    if "at_in" in options:
        options["at"] = timedelta(seconds=options.pop("at_in"))
    if "executor" in options:
        options["executor"] = uwsgi_tasks.TaskExecutor[options["executor"]]
    return options


def call(q: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module(q["module"]) if "module" in q else itasks
    target = getattr(module, q["task"])
    if q.get("options"):
        target = target.options(**_options(q["options"]))
    args = list(q.get("args", []))
    if "complex" in q:
        args.append(complex(*q["complex"]))
    if "payload" in q:
        args.append(bytes(range(256)) * (q["payload"] // 256) + bytes(q["payload"] % 256))
    send = getattr(target, q.get("via", "spool"))
    try:
        handle = send(*args, **q.get("kwargs", {}))
        if "wait" in q:  # this worker's handle, followed to the end
            return {"id": handle.id, "result": handle.result(q["wait"]), "status": handle.status.value}
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)}
    return {
        "id": handle.id,
        "spool_file": handle.spool_file,
        "status": handle.status.value,
        "executor": handle.executor.name,
        "pickled": list(handle.pickled),
        "result": handle.result(0) if handle.status.value == "succeeded" else None,
    }


def legacy_mule_message(name: str) -> bytes:
    """A mule message as uwsgi_tasks 0.7.3 wrote it: a pickled MuleTask."""
    from uwsgi_tasks.tasks import MuleTask

    legacy = MuleTask()
    legacy.__dict__.update(
        {
            "function_name": "tests.integration.apps.itasks.note",
            "args": (name, "0.7.3"),
            "kwargs": {},
            "setup": {},
        }
    )
    return pickle.dumps({"uwsgi_tasks.mule_task": legacy})


def info() -> dict[str, Any]:
    return {
        "opt": {k: v.decode() if isinstance(v, bytes) else v for k, v in uwsgi.opt.items()},
        "spooler_pids": uwsgi.spooler_pids() if hasattr(uwsgi, "spooler_pids") else [],
        "names": sorted(dir(uwsgi)),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    path = environ["PATH_INFO"]
    if path == "/call":
        body = call(json.loads(query["q"][0]))
    elif path == "/callbacks-again":
        uwsgi_tasks.set_uwsgi_callbacks()
        uwsgi_tasks.set_uwsgi_callbacks()
        body = {"ok": True}
    elif path == "/signal":
        signal_tasks.HANDLERS[query["name"][0]].send()
        body = {"ok": True}
    elif path == "/start-lazy":
        signal_tasks.started_later.add_setup(seconds=1, iterations=2)
        body = {"started": signal_tasks.started_later(), "again": signal_tasks.started_later()}
    elif path == "/late-import":
        try:
            module = importlib.import_module(f"tests.integration.apps.{query['module'][0]}")
            body = {"started": module.too_late.start()}
        except Exception as e:
            body = {"error": type(e).__name__, "message": str(e)}
    elif path == "/bulk":
        n, prefix = int(query["n"][0]), query["prefix"][0]
        for i in range(n):
            itasks.tally.spool(f"{prefix}-{i}")
        body = {"sent": n}
    elif path == "/stamps":
        n, prefix = int(query["n"][0]), query["prefix"][0]
        for i in range(n):
            itasks.stamp.spool(f"{prefix}-{i}")
        body = {"sent": n}
    elif path == "/mule-legacy":
        body = {"sent": uwsgi.mule_msg(legacy_mule_message(query["name"][0]), 1)}
    elif path == "/mule-raw":
        body = {"sent": uwsgi.mule_msg(query["m"][0].encode(), 1)}
    elif path == "/info":
        body = info()
    else:
        body = {"ok": True}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
