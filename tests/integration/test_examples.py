"""The examples, each started from its own uwsgi.ini in a real uWSGI: submit, observe the handle, stop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uwsgi_tasks import TaskStatus
from uwsgi_tasks.testing import UwsgiServer, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DONE = ("succeeded", "failed", "cancelled")


def settled(server: UwsgiServer, path: str, key: str = "status", done: tuple[str, ...] = DONE) -> Any:
    """GET *path* until its *key* is one of *done*; that answer."""

    def answer() -> Any:
        body = server.get_json(path)
        assert key in body, body
        return body if body[key] in done else None

    return wait_until(answer, 15, interval=0.02, message=f"{path} never settled:\n{server.log()[-3000:]}")


def settled_rows(server: UwsgiServer, path: str) -> list[dict[str, Any]]:
    def answer() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = server.get_json(path)
        return rows if all(row["status"] in DONE for row in rows) else None

    return wait_until(answer, 15, interval=0.05, message=f"{path} never settled:\n{server.log()[-3000:]}")


def start(binary: str, name: str, base: Path, **kwargs: Any) -> UwsgiServer:
    return UwsgiServer.from_ini(EXAMPLES / name / "uwsgi.ini", base, binary=binary, **kwargs).start()


def test_plain_wsgi_demo_runs_tasks_from_its_own_ini(tmp_path: Path, uwsgi_binary: str) -> None:
    """examples/demo (plain WSGI): spooled, scheduled, mule and failing tasks reach their end."""
    outbox = tmp_path / "outbox"
    server = start(uwsgi_binary, "demo", tmp_path, env={"DEMO_OUTBOX": str(outbox)})
    try:
        sent = server.get_json("/send")
        ids = "&".join(f"id={row['id']}" for row in sent)
        rows = settled_rows(server, f"/status?{ids}")
    finally:
        server.stop()
    assert [(row["function"], row["status"]) for row in rows] == [
        ("tasks:send_email", "succeeded"),
        ("tasks:send_email", "succeeded"),
        ("tasks:thumbnail", "succeeded"),
        ("tasks:nightly_report", "failed"),
    ]
    assert sorted(json.loads(p.read_text())["to"] for p in outbox.iterdir()) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert rows[3]["error"].startswith("builtins.ConnectionError")


def test_flask_example_sends_to_the_spooler_and_a_mule(tmp_path: Path, uwsgi_binary: str) -> None:
    """examples/flask: a view spools an email and sends work to a mule; another view reads them by id."""
    server = start(uwsgi_binary, "flask", tmp_path)
    try:
        sent = server.get_json("/orders/42/confirm?email=ada@example.com")
        email = settled(server, sent["email"]["url"])
        cache = settled(server, sent["cache"]["url"])
    finally:
        server.stop()
    assert email["status"] == "succeeded" and email["result"] == "order-42.json"
    written = json.loads((tmp_path / "outbox" / "order-42.json").read_text())
    assert written == {"to": "ada@example.com", "subject": "Order 42 confirmed"}
    assert cache["status"] == "succeeded" and cache["result"] == len("order:42")


@pytest.fixture(scope="module")
def django_example(tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str) -> Iterator[UwsgiServer]:
    """examples/django in a real uWSGI: two spoolers ("spool", and "reports" for the reports queue)."""
    server = start(uwsgi_binary, "django", tmp_path_factory.mktemp("django"), spool_dirs=["spool", "reports"])
    yield server
    server.stop()


def test_django_view_sends_the_welcome_email_through_the_spooler(django_example: UwsgiServer) -> None:
    """The seed's use case: a view spools send_mail (file backend) and shows the handle's status."""
    sent = django_example.get_json("/signup?email=ada@example.com")
    assert sent["email"]["executor"] == "SPOOLER" and sent["avatar"]["executor"] == "MULE"
    email = settled(django_example, f"/tasks/{sent['email']['id']}")
    avatar = settled(django_example, f"/tasks/{sent['avatar']['id']}")
    assert email["status"] == "succeeded" and email["result"] == 1
    assert avatar["status"] == "succeeded" and avatar["result"] == "avatars/ada@example.com-128px.png"
    messages = [p.read_text() for p in (django_example.base_dir / "outbox").iterdir()]
    assert any("To: ada@example.com" in m and "Subject: Welcome!" in m for m in messages)


def enqueue(server: UwsgiServer, task: str, arg: str, **options: object) -> dict[str, Any]:
    query = "&".join([f"task={task}", f"arg={arg}", *(f"{k}={v}" for k, v in options.items())])
    result: dict[str, Any] = server.get_json(f"/reports?{query}")
    return result


def test_django_task_result_goes_from_ready_to_successful(django_example: UwsgiServer) -> None:
    """enqueue gives a READY TaskResult; get_result, in any worker, follows it to SUCCESSFUL."""
    enqueued = enqueue(django_example, "build_report", "2026-11-27")
    assert enqueued["status"] == "READY"
    assert enqueued["args"] == ["2026-11-27"] and enqueued["kwargs"] == {}
    assert enqueued["started_at"] is None and enqueued["finished_at"] is None and enqueued["attempts"] == 0
    done = settled(django_example, f"/reports/{enqueued['id']}", done=("SUCCESSFUL", "FAILED"))
    assert done["status"] == "SUCCESSFUL"
    assert done["return_value"]["day"] == "2026-11-27"
    assert done["enqueued_at"] == enqueued["enqueued_at"]
    assert done["enqueued_at"] <= done["started_at"] <= done["finished_at"]  # ISO 8601, all UTC
    assert done["attempts"] == 1
    assert done["worker_ids"] == [f"uwsgi-spooler:{django_example.spool_dirs[0]}"]
    assert done["task"] == "my_project.apps.index.tasks.build_report" and done["errors"] == []


def test_django_task_failure_carries_the_exception_class_and_traceback(django_example: UwsgiServer) -> None:
    """A failing task is FAILED with Django's TaskError: the class path and the traceback; its queue's
    spooler ran it."""
    enqueued = enqueue(django_example, "archive_reports", "monday")
    done = settled(django_example, f"/reports/{enqueued['id']}", done=("SUCCESSFUL", "FAILED"))
    assert done["status"] == "FAILED" and "return_value" not in done
    [error] = done["errors"]
    assert error["exception_class_path"] == "builtins.PermissionError"
    assert error["traceback"].endswith("PermissionError: the archive is read-only (monday)\n")
    assert done["queue_name"] == "reports"
    assert done["worker_ids"] == [f"uwsgi-spooler:{django_example.spool_dirs[1]}"]


def test_django_context_and_coroutine_tasks_run(django_example: UwsgiServer) -> None:
    """takes_context gets the TaskContext (its result id and attempt); async def tasks run to completion."""
    context = enqueue(django_example, "reindex", "users")
    coroutine = enqueue(django_example, "ping", "db1")
    done = settled(django_example, f"/reports/{context['id']}", done=("SUCCESSFUL", "FAILED"))
    assert done["return_value"] == {"what": "users", "result_id": context["id"], "attempt": 1}
    done = settled(django_example, f"/reports/{coroutine['id']}", done=("SUCCESSFUL", "FAILED"))
    assert done["return_value"] == "pong from db1"


def test_django_run_after_defers_the_task(django_example: UwsgiServer) -> None:
    """run_after becomes the spool file's start time: SCHEDULED, then run no earlier than asked."""
    enqueued = enqueue(django_example, "build_report", "later", delay=2)
    handle = django_example.handle(enqueued["id"])
    assert handle.status is TaskStatus.SCHEDULED
    assert enqueued["status"] == "READY" and enqueued["run_after"] is not None
    done = settled(django_example, f"/reports/{enqueued['id']}", done=("SUCCESSFUL", "FAILED"))
    assert done["status"] == "SUCCESSFUL"
    assert done["started_at"] >= done["run_after"]


def test_django_priorities_map_onto_spooler_priorities(django_example: UwsgiServer) -> None:
    """Django's larger priorities run sooner: priority p is uWSGI priority directory 100 - p, and
    uWSGI runs lower directories first (tests/integration/test_spooler.py shows the order)."""
    directories = {}
    for priority in (100, 0, -100):
        enqueued = enqueue(django_example, "build_report", "someday", priority=priority, delay=3600)
        handle = django_example.handle(enqueued["id"])
        assert handle.spool_file is not None
        directories[priority] = Path(handle.spool_file).parent.name
        assert handle.cancel()  # cancelled: Django's FAILED, never started
        cancelled = django_example.get_json(f"/reports/{enqueued['id']}")
        assert cancelled["status"] == "FAILED" and cancelled["priority"] == priority
        assert cancelled["errors"][0]["exception_class_path"] == "uwsgi_tasks.TaskCancelled"
        assert cancelled["started_at"] is None and cancelled["attempts"] == 0
    assert directories == {100: "0", 0: "100", -100: "200"}


def test_django_backend_says_what_it_supports(
    django_example: UwsgiServer, tmp_path: Path, uwsgi_binary: str
) -> None:
    """Inside uWSGI: defer, results from any process, coroutines, and priorities with spooler-ordered.
    The same project without spooler-ordered does not claim priorities, and refuses them."""
    everything = dict.fromkeys(["supports_defer", "supports_async_task", "supports_get_result"], True)
    assert django_example.get_json("/backend") == {**everything, "supports_priority": True}
    unordered = UwsgiServer(
        tmp_path,
        module="my_project.wsgi:application",
        pythonpath=[EXAMPLES / "django"],
        spooler_ordered=False,
        env={"DJANGO_SETTINGS_MODULE": "my_project.settings", "EXAMPLE_STATE": str(tmp_path)},
        binary=uwsgi_binary,
    )
    with unordered:
        assert unordered.get_json("/backend") == {**everything, "supports_priority": False}
        refused = unordered.get_json("/reports?task=build_report&arg=x&priority=10")
        assert refused["error"] == "InvalidTask" and "priority" in refused["message"]
        accepted = unordered.get_json("/reports?task=build_report&arg=x")
        assert accepted["status"] == "READY" and unordered.handle(accepted["id"]).result(timeout=10)


def test_django_unknown_result_id_does_not_exist(django_example: UwsgiServer) -> None:
    """get_result of an id nobody enqueued raises TaskResultDoesNotExist (the view answers 404)."""
    for result_id in ("0123456789abcdef0123456789abcdef", "not-an-id"):
        assert django_example.get_json(f"/reports/{result_id}")["error"] == "TaskResultDoesNotExist"


def test_a_process_outside_uwsgi_reads_django_results_from_the_spool_directories(
    django_example: UwsgiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A management command or a shell (not uWSGI), with the project importable and the SPOOLERS
    directories configured, reads the results of tasks the site enqueued. (Its tasks' module is in
    the project's INSTALLED_APPS there; these tests' settings are not the project's, so it is
    declared instead: a note never imports a module that is neither.)"""
    from django.test import override_settings

    from tests import django_support as dj

    dj.configure()
    monkeypatch.syspath_prepend(str(EXAMPLES / "django"))
    monkeypatch.setattr("uwsgi_tasks._config._settings.task_modules", ("my_project",))
    enqueued = enqueue(django_example, "build_report", "from-a-shell")
    settled(django_example, f"/reports/{enqueued['id']}", done=("SUCCESSFUL", "FAILED"))
    spoolers = {"default": str(django_example.spool_dirs[0]), "reports": str(django_example.spool_dirs[1])}
    with override_settings(TASKS={"default": {"BACKEND": dj.BACKEND, "OPTIONS": {"SPOOLERS": spoolers}}}):
        result = dj.default_task_backend.get_result(enqueued["id"])
    assert result.status == dj.TaskResultStatus.SUCCESSFUL
    assert result.return_value["day"] == "from-a-shell"
    assert result.task.module_path == "my_project.apps.index.tasks.build_report"


def test_the_demo_command_runs_a_real_uwsgi_and_reaps_it(uwsgi_binary: str) -> None:
    """examples/demo/run.py, what the README's first command runs: it starts uWSGI from the demo's
    ini, shows every handle reach its end, and stops and reaps the server."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "UT_UWSGI_BIN": uwsgi_binary}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo" / "run.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("uWSGI started: master pid ")
    master = int(lines[0].split("master pid ")[1].split(",")[0])
    finals = [line.split()[2] for line in lines if line.startswith("  tasks:") and line.split()[2] in DONE]
    assert sorted(finals) == ["failed", "succeeded", "succeeded", "succeeded"]
    assert lines[-1] == "uWSGI stopped and reaped"
    assert not os.path.exists(f"/proc/{master}")
