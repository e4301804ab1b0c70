"""Integration fixtures: a real uWSGI running tests/integration/apps/app.py, stopped and reaped after."""

from __future__ import annotations

import json
import os
import signal
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from uwsgi_tasks.testing import UwsgiServer, find_uwsgi, wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parent / "apps" / "app.py"

ServerFactory = Callable[..., UwsgiServer]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--allow-missing-uwsgi",
        action="store_true",
        help="skip integration tests when no uwsgi binary is installed (they fail otherwise)",
    )


@pytest.fixture(scope="session")
def uwsgi_binary(request: pytest.FixtureRequest) -> str:
    binary = find_uwsgi()
    if binary is None:
        if request.config.getoption("--allow-missing-uwsgi"):
            pytest.skip("no uwsgi binary (--allow-missing-uwsgi given)")
        pytest.fail("no uwsgi binary: install the 'uwsgi' extra, or pass --allow-missing-uwsgi to skip")
    return binary


def _factory(base: Path, binary: str) -> Iterator[ServerFactory]:
    servers: list[UwsgiServer] = []

    def start(name: str = "server", **config: Any) -> UwsgiServer:
        results = base / name / "results"
        results.mkdir(parents=True, exist_ok=True)
        env = {"UT_RESULTS": str(results), **config.pop("env", {})}
        server = UwsgiServer(base / name, wsgi_file=APP, pythonpath=[ROOT], binary=binary, env=env, **config)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def uwsgi_server(tmp_path: Path, uwsgi_binary: str) -> Iterator[ServerFactory]:
    """Start servers with the given UwsgiServer options; all are stopped after the test."""
    yield from _factory(tmp_path, uwsgi_binary)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str) -> Iterator[UwsgiServer]:
    """One server per module: 2 workers, an ordered spooler (default 30 s scan), 2 mules, a farm."""
    for start in _factory(tmp_path_factory.mktemp("shared"), uwsgi_binary):
        yield start()


def results_dir(server: UwsgiServer) -> Path:
    return Path(server.env["UT_RESULTS"])


def call(server: UwsgiServer, task: str, *args: Any, via: str = "spool", **extra: Any) -> dict[str, Any]:
    """Send *task* from a worker of *server*; the worker's description of the handle."""
    query = {"task": task, "via": via, "args": list(args), **extra}
    answer: dict[str, Any] = server.get_json("/call?q=" + urllib.parse.quote(json.dumps(query)))
    return answer


def records(server: UwsgiServer, name: str) -> list[dict[str, Any]]:
    path = results_dir(server) / f"{name}.jsonl"
    if not path.exists():
        return []
    # Only whole lines: a record being appended is not one yet.
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


def wait_records(server: UwsgiServer, name: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    """Wait until task *name* recorded *count* lines; fail with the server log otherwise."""

    def enough() -> list[dict[str, Any]] | None:
        found = records(server, name)
        return found if len(found) >= count else None

    try:
        return wait_until(enough, timeout)
    except TimeoutError:
        found = len(records(server, name))
        pytest.fail(f"{name}: {found} of {count} records in {timeout} s\n{server.log()}")


def kick_spoolers(server: UwsgiServer) -> None:
    """Wake the spoolers, as a producer outside uWSGI would after writing a spool file."""
    for pid in server.get_json("/info")["spooler_pids"]:
        if pid > 0:
            os.kill(pid, signal.SIGUSR1)
