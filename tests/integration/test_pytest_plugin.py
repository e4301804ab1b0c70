"""The pytest plugin, as a user's project sees it: a pytest run in a temporary project (a subprocess,
the plugin loaded from its entry point) whose tests use the fixtures against a real uWSGI."""

from __future__ import annotations

import textwrap

import pytest

APP = """
import json

from uwsgi_tasks import task


@task
def shout(word: str) -> str:
    return word.upper()


def application(environ, start_response):
    handle = shout.spool(environ["QUERY_STRING"] or "hello")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"id": handle.id}).encode()]
"""

INI = """
[uwsgi]
strict = true
master = true
http-socket = 127.0.0.1:%(port)
pythonpath = %d
module = myapp:application
spooler = %(base)/queue
mules = 1
die-on-term = true
"""

USES_THE_SERVER = """
from uwsgi_tasks import TaskExecutor


def test_a_task_sent_by_the_app_runs_in_its_spooler(uwsgi_app):
    sent = uwsgi_app.get_json("/?ping")
    handle = uwsgi_app.handle(sent["id"])
    assert handle.result(timeout=10) == "PING"
    assert handle.executor is TaskExecutor.SPOOLER


def test_the_server_is_shared_by_the_module(uwsgi_app):
    assert uwsgi_app.handle(uwsgi_app.get_json("/?again")["id"]).result(timeout=10) == "AGAIN"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(myapp=APP)
    return pytester


def test_uwsgi_app_runs_the_users_own_ini(project: pytest.Pytester) -> None:
    """uwsgi_tasks_ini: the project's ini, with %(port) and %(base) set, its spool directory named."""
    project.makefile(".ini", uwsgi=INI)
    project.makeini("[pytest]\nuwsgi_tasks_ini = uwsgi.ini\nuwsgi_tasks_spool_dirs = queue\n")
    project.makepyfile(test_app=USES_THE_SERVER)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_uwsgi_app_generates_a_config_for_a_wsgi_module(project: pytest.Pytester) -> None:
    """uwsgi_tasks_module: a generated config with a spooler and mules."""
    project.makeini("[pytest]\nuwsgi_tasks_module = myapp:application\n")
    project.makepyfile(test_app=USES_THE_SERVER)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_uwsgi_app_without_configuration_says_what_to_set(project: pytest.Pytester) -> None:
    project.makepyfile(test_app=USES_THE_SERVER)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*needs uwsgi_tasks_ini*or uwsgi_tasks_module*"])


def test_tasks_in_place_fixture(project: pytest.Pytester) -> None:
    """tasks_in_place: tasks run in place through the codec, and a failing one raises at the send."""
    project.makepyfile(
        test_in_place=textwrap.dedent(
            """
            import pytest
            from uwsgi_tasks import task

            from myapp import shout


            @task
            def broken(x: int) -> None:
                raise LookupError(x)


            def test_runs_and_records(tasks_in_place):
                assert shout.spool("a").result() == "A"
                assert [h.function for h in tasks_in_place.handles] == ["myapp:shout"]


            def test_raises(tasks_in_place):
                with pytest.raises(LookupError):
                    broken.spool(1)
            """
        )
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
