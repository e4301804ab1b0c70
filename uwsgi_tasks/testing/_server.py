"""A real uWSGI server for integration tests, and polling with a timeout.

`UwsgiServer` starts ``uwsgi`` on 127.0.0.1 with a free port in its own process group, waits until it
answers HTTP, and always stops it by pid and waits until every process of the group is gone. It either
writes the ini itself, or runs yours (`UwsgiServer.from_ini`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .._handle import TaskHandle

T = TypeVar("T")

#: Set this environment variable to a uwsgi binary to use instead of the one next to Python.
#: (uWSGI reads every ``UWSGI_*`` variable as an option, so the name must not start with it.)
BINARY_ENV = "UT_UWSGI_BIN"


def find_uwsgi() -> str | None:
    """The uwsgi binary: $UT_UWSGI_BIN, the one installed beside this Python, or the one on PATH."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "uwsgi"
    if beside.exists():
        return str(beside)
    return shutil.which("uwsgi")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], T | None], timeout: float, *, interval: float = 0.01, message: str = ""
) -> T:
    """Poll *predicate* until it returns something truthy and return that; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


class UwsgiServer:
    """A real uWSGI instance: master, workers, spoolers, mules and a farm, on 127.0.0.1 only::

        with UwsgiServer(tmp_path, wsgi_file="app.py", pythonpath=["."]) as server:
            server.get("/send")
            wait_until(lambda: (tmp_path / "done").exists(), timeout=5)

    Args:
        base_dir: where the ini, log, fifo and spool directories go (``spool0``, ``spool1``, ...).
        wsgi_file: the application as a file, uWSGI's ``wsgi-file`` option (or *module*).
        module: the application as a module, uWSGI's ``module`` option (or *wsgi_file*).
        pythonpath: directories added to ``sys.path`` in every process.
        processes: number of workers.
        spoolers: number of spooler directories, each with one spooler process.
        spooler_ordered: ``--spooler-ordered`` (needed for priorities).
        spooler_frequency: seconds between spooler scans; None keeps uWSGI's default (30).
        mules: number of plain mules; farms: ``{"name": (mule ids)}``.
        options: more ini lines, as (option, value) pairs.
        env: environment variables for the server (added to this process's environment).
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        wsgi_file: str | os.PathLike[str] | None = None,
        module: str | None = None,
        pythonpath: Iterable[str | os.PathLike[str]] = (),
        processes: int = 2,
        spoolers: int = 1,
        spooler_ordered: bool = True,
        spooler_frequency: int | None = None,
        mules: int = 2,
        farms: Mapping[str, Sequence[int]] | None = None,
        options: Iterable[tuple[str, str]] = (),
        env: Mapping[str, str] | None = None,
        binary: str | None = None,
    ) -> None:
        self.base_dir: Path = Path(base_dir)
        self.wsgi_file: str | os.PathLike[str] | None = wsgi_file
        self.module: str | None = module
        self.pythonpath: list[Path] = [Path(p) for p in pythonpath]
        self.processes: int = processes
        self.spool_dirs: list[Path] = [self.base_dir / f"spool{i}" for i in range(spoolers)]
        self.spooler_ordered: bool = spooler_ordered
        self.spooler_frequency: int | None = spooler_frequency
        self.mules: int = mules
        self.farms: dict[str, Sequence[int]] = (
            dict(farms) if farms is not None else ({"farm": (1, 2)} if mules >= 2 else {})
        )
        self.options: list[tuple[str, str]] = list(options)
        self.env: dict[str, str] = dict(env or {})
        self.binary: str | None = binary
        self.port: int = 0
        self.log_file: Path = self.base_dir / "uwsgi.log"
        self.fifo: Path = self.base_dir / "master.fifo"
        self.ini_file: Path | None = None
        self.placeholders: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_ini(
        cls,
        ini_file: str | os.PathLike[str],
        base_dir: str | os.PathLike[str],
        *,
        spool_dirs: Iterable[str] = ("spool",),
        placeholders: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        binary: str | None = None,
    ) -> UwsgiServer:
        """A server running your own ini file, as production does.

        The ini must listen on ``127.0.0.1:%(port)`` and keep its state under ``%(base)``: the server
        sets those placeholders (uWSGI's ``--set-ph``) to a free port and *base_dir*, plus any
        *placeholders* you give. *spool_dirs* names the ini's spooler directories, relative to
        *base_dir*, for the tests' use (``server.spool_dirs``).
        """
        server = cls(base_dir, spoolers=0, mules=0, env=env, binary=binary)
        server.ini_file = Path(ini_file).resolve()
        server.spool_dirs = [server.base_dir / name for name in spool_dirs]
        server.placeholders = dict(placeholders or {})
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The master's pid (also the process group of every process of the server)."""
        if self._proc is None:
            raise RuntimeError("the server is not started")
        return self._proc.pid

    def ini(self) -> str:
        lines = [
            "[uwsgi]",
            "strict = true",
            "master = true",
            f"processes = {self.processes}",
            f"http-socket = 127.0.0.1:{self.port}",
            f"master-fifo = {self.fifo}",
            "die-on-term = true",
            "need-app = true",
            "disable-logging = true",
            "spooler-quiet = true",
        ]
        lines += [f"spooler = {d}" for d in self.spool_dirs]
        if self.spool_dirs and self.spooler_ordered:
            lines.append("spooler-ordered = true")
        if self.spooler_frequency is not None:
            lines.append(f"spooler-frequency = {self.spooler_frequency}")
        if self.mules:
            lines.append(f"mules = {self.mules}")
        lines += [f"farm = {name}:{','.join(map(str, ids))}" for name, ids in self.farms.items()]
        lines += [f"pythonpath = {p}" for p in self.pythonpath]
        if self.wsgi_file is not None:
            lines.append(f"wsgi-file = {self.wsgi_file}")
        if self.module is not None:
            lines.append(f"module = {self.module}")
        lines += [f"{key} = {value}" for key, value in self.options]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30.0) -> UwsgiServer:
        """Start the server and wait until it answers HTTP; on failure, stop it and raise."""
        binary = self.binary or find_uwsgi()
        if binary is None:
            raise FileNotFoundError(f"no uwsgi binary: pip install uwsgi, or set {BINARY_ENV}")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        if self.ini_file is None:
            ini = self.base_dir / "uwsgi.ini"
            ini.write_text(self.ini())
            command = [binary, "--ini", str(ini)]
        else:
            values = {**self.placeholders, "port": str(self.port), "base": str(self.base_dir)}
            command = [binary, "--ini", str(self.ini_file)]
            for name, value in values.items():
                command += ["--set-ph", f"{name}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("UWSGI_")}
        env.update(self.env)
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                command,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: we stop exactly our processes
            )
        try:
            wait_until(self._answers, timeout, interval=0.005, message=f"uwsgi did not answer:\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"uwsgi exited with {self._proc.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(self.url + "/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def group(self) -> list[int]:
        """Live processes of the server's process group (zombies waiting for init excluded)."""
        if self._proc is None:
            return []
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == self._proc.pid:
                alive.append(int(entry))
        return alive

    def stop(self, *, graceful: bool = False, timeout: float = 15.0) -> None:
        """Stop the server and wait until all its processes are gone.

        By default every process of the group is killed at once (SIGKILL), which is what tests
        want. ``graceful=True`` asks the master to shut down (SIGINT) and waits *timeout* seconds
        before killing what is left.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None and graceful:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # proc.pid is the group: never 0, never ours
        proc.wait(timeout)
        wait_until(lambda: not self.group(), timeout, message=f"uwsgi processes left: {self.group()}")
        self._proc = None

    def get(self, path: str, timeout: float = 30.0) -> bytes:
        """GET *path* from the server; the body, whatever the status."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                body: bytes = response.read()
        except urllib.error.HTTPError as e:
            body = e.read()
        return body

    def get_json(self, path: str, timeout: float = 30.0) -> Any:
        return json.loads(self.get(path, timeout))

    def handle(self, task_id: str) -> TaskHandle[Any]:
        """The handle of task *task_id*, sent by this server to its first spooler (or a mule)."""
        return TaskHandle.from_id(task_id, self.spool_dirs[0])

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> UwsgiServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
