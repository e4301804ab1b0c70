"""Django's own tests of its tasks framework, run against SpoolerBackend: outside uWSGI, where tasks
run in place, and inside a real uWSGI, where its spooler runs them.

The tests are ``tests/tasks`` of the installed Django's source distribution, fetched with pip once
and cached (tests/django_conformance/sdist.py). They are copied with one substitution: where they
configure ``django.tasks.backends.immediate.ImmediateBackend`` they get our backend, and their name
``ImmediateBackend`` is SpoolerBackend (for their isinstance checks). The backend-agnostic modules
(test_tasks.py, test_custom_backend.py, test_dummy_backend.py) run as they are, in the same process.

- Outside uWSGI the copy runs in a fresh Python (`tests.django_conformance.runner`), with
  ``uwsgi_tasks.contrib.django.SpoolerBackend`` itself.
- Inside uWSGI it runs in a worker of an instance with a spooler, with ``SettledSpoolerBackend``:
  SpoolerBackend whose ``enqueue`` returns only once its ``get_result`` shows the spooler finished
  the task, with the ``django.tasks`` records the spooler logged replayed in the worker
  (tests/django_conformance/backends.py), since Django's tests assert on the result and the logs the
  moment ``enqueue`` returns.

A Django test may be skipped only when it checks the absence of a feature and SpoolerBackend's flag
says it has it (`runner.ASSUMES`), or, inside uWSGI, when it needs the task to run in the caller
(`runner.NOT_APPLICABLE_IN_UWSGI`, covered by its own test here). Every other test must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import django
import pytest

from tests.django_conformance import runner, sdist
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BACKEND = "uwsgi_tasks.contrib.django.SpoolerBackend"
SETTLED_BACKEND = "tests.django_conformance.backends.SettledSpoolerBackend"
#: Django 6.1's tests/tasks has 85 tests; far fewer means discovery lost a module.
MIN_TESTS = 80


@pytest.fixture(scope="module")
def django_tests(request: pytest.FixtureRequest) -> Path:
    """The directory holding Django's ``tasks`` test package, as the sdist has it."""
    if django.VERSION < (6, 0):
        pytest.skip(
            f"Django {django.__version__}: django.tasks and its tests/tasks are Django >= 6 (the "
            "django-tasks backport's sdist ships no tests)"
        )
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    where = Path(cache.mkdir("django-sdist")) if cache is not None else sdist.default_cache()
    return sdist.django_tests(where)


def check(report: Mapping[str, Any], not_applicable: Mapping[str, str]) -> None:
    """Every Django test passed, except those skipped for the reasons `runner.skip_reasons` gives."""
    tests: dict[str, dict[str, Any]] = report["tests"]
    failed = {name: entry["details"] for name, entry in tests.items() if entry["outcome"] == "failed"}
    if failed:
        pytest.fail(
            f"{len(failed)} of Django's {len(tests)} tasks tests failed against SpoolerBackend:\n\n"
            + "\n".join(f"--- {name}\n{''.join(details)}" for name, details in sorted(failed.items())),
            pytrace=False,
        )
    assert report["django"] == django.get_version()
    assert report["unknown"] == [], "tests the skip tables name that this Django does not have"
    assert report["run"] >= MIN_TESTS, f"only {report['run']} of Django's tests ran"
    expected = runner.skip_reasons(report["flags"], not_applicable)
    skipped = {name: entry["details"] for name, entry in tests.items() if entry["outcome"] == "skipped"}
    assert skipped == {name: [reason] for name, reason in expected.items()}
    passed = sum(entry["outcome"] == "passed" for entry in tests.values())
    assert passed + len(skipped) == len(tests) == report["run"]
    print(f"Django {report['django']} tests/tasks: {passed} passed, {len(skipped)} skipped")
    for name, reason in sorted(expected.items()):
        print(f"  skipped {name}: {reason}")


def test_django_tasks_tests_pass_outside_uwsgi(django_tests: Path, tmp_path: Path) -> None:
    """Tasks run in place, as with ImmediateBackend: every test passes but the two that check that
    results can't be read back (SpoolerBackend reads them back)."""
    copy = sdist.substituted_copy(django_tests, tmp_path / "django-tests", BACKEND)
    report_file = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "tests.django_conformance.runner", str(copy), str(report_file)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(report_file.read_text())
    assert report["flags"] == {
        "supports_defer": False,
        "supports_async_task": True,
        "supports_get_result": True,
        "supports_priority": True,
    }
    check(report, {})


@pytest.fixture(scope="module")
def conformance_server(
    django_tests: Path, tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str
) -> Iterator[UwsgiServer]:
    """A uWSGI instance (one worker, one ordered spooler) serving tests/django_conformance/wsgi.py."""
    base = tmp_path_factory.mktemp("django-conformance")
    copy = sdist.substituted_copy(django_tests, base / "django-tests", SETTLED_BACKEND)
    logs = base / "logs"
    logs.mkdir()
    server = UwsgiServer(
        base / "uwsgi",
        module="tests.django_conformance.wsgi:application",
        pythonpath=[ROOT, copy],
        processes=1,
        spoolers=1,
        mules=0,
        options=[("spooler-import", "tests.django_conformance.spooler"), ("enable-threads", "true")],
        env={
            "DJANGO_SETTINGS_MODULE": runner.SETTINGS,
            runner.TESTS_ENV: str(copy),
            runner.LOGS_ENV: str(logs),
        },
        binary=uwsgi_binary,
    )
    with server:
        yield server


def answer(server: UwsgiServer, path: str) -> dict[str, Any]:
    body: dict[str, Any] = server.get_json(path, timeout=120)
    if "error" in body:
        pytest.fail(f"{path}: {body['error']}\n{server.log()[-3000:]}", pytrace=False)
    return body


def test_django_tasks_tests_pass_inside_uwsgi(conformance_server: UwsgiServer) -> None:
    """Tasks run in the spooler: every test passes but the two that check that results can't be
    read back, the one that checks run_after is refused (SpoolerBackend defers), and the one that
    needs the task's KeyboardInterrupt raised by enqueue() itself."""
    report = answer(conformance_server, "/run")
    assert report["flags"] == {
        "supports_defer": True,
        "supports_async_task": True,
        "supports_get_result": True,
        "supports_priority": True,  # the instance has spooler-ordered
    }
    check(report, runner.NOT_APPLICABLE_IN_UWSGI)


def test_keyboard_interrupt_fails_once_inside_uwsgi(conformance_server: UwsgiServer) -> None:
    """Django's failing_task_keyboard_interrupt, enqueued in a worker: the spooler runs it once and it
    ends FAILED with the KeyboardInterrupt, one start and one end logged; the spooler process lives
    on, runs the next task, and no spool file is left to run it again."""
    seen = answer(conformance_server, "/keyboard-interrupt")
    assert seen["enqueued_status"] == "READY"
    assert seen["status"] == "FAILED" and seen["handle_status"] == "FAILED"
    assert seen["attempts"] == 1 and seen["handle_attempt"] == 1 and len(seen["worker_ids"]) == 1
    [error] = seen["errors"]
    assert error["exception_class_path"] == "builtins.KeyboardInterrupt"
    assert error["traceback"].endswith("KeyboardInterrupt: This Task failed due to KeyboardInterrupt\n")
    logged = [(record["levelname"], record["msg"].rpartition("state=")[2]) for record in seen["logged"]]
    assert logged == [("INFO", "RUNNING"), ("ERROR", "FAILED")]
    assert seen["spooler_pids_after"] == seen["spooler_pids_before"]
    assert seen["next_task"] == {"status": "SUCCESSFUL", "return_value": 42}
    spool_dir = conformance_server.spool_dirs[0]  # uwsgi_tasks' own files are under .uwsgi_tasks/

    def left() -> list[Path]:
        return [
            p
            for p in spool_dir.rglob("*")
            if p.is_file() and not p.relative_to(spool_dir).parts[0].startswith(".")
        ]

    # uWSGI deletes a file once the spooler callable returned, just after the outcome is recorded.
    wait_until(lambda: not left(), 10, message=f"spool files left: {left()}")


def test_a_result_read_while_its_task_runs_says_when_it_started(
    conformance_server: UwsgiServer, tmp_path: Path
) -> None:
    """RUNNING, one attempt, and started_at / last_attempted_at set (when the spooler started it), as
    Django's own backends say; both no later than when it finished."""
    seen = answer(conformance_server, f"/while-running?{tmp_path / 'release'}")
    running = seen["running"]
    assert running["status"] == "RUNNING" and running["attempts"] == 1
    assert running["started_at"] is not None and running["last_attempted_at"] == running["started_at"]
    assert seen["status"] == "SUCCESSFUL" and running["started_at"] <= seen["finished_at"]
