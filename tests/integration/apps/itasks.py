"""Tasks the integration tests send into a real uWSGI; each records what it saw as a JSON line."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import uwsgi

from uwsgi_tasks import Ignore, RetryPolicy, RetryTaskException, TaskExecutor, get_current_task, task

RESULTS = Path(os.environ["UT_RESULTS"])


def role() -> str:
    if uwsgi.i_am_the_spooler():
        return "spooler"
    if uwsgi.mule_id():
        return f"mule{uwsgi.mule_id()}"
    return f"worker{uwsgi.worker_id()}"


def record(name: str, **data: Any) -> None:
    current = get_current_task()
    line = {
        "name": name,
        "pid": os.getpid(),
        "role": role(),
        "time": time.time(),
        "cwd": os.getcwd(),
        "task_id": current.id if current else None,
        "attempt": current.attempt if current else None,
        **data,
    }
    fd = os.open(RESULTS / f"{name}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


@task
def note(name: str, value: Any = None) -> Any:
    record(name, value=value)
    return value


@task(executor=TaskExecutor.MULE)
def mule_note(name: str) -> str:
    record(name)
    return role()


@task
def fail(name: str) -> None:
    record(name)
    raise ValueError(f"{name} failed on purpose")


@task
def block(name: str, flag: str, timeout: float = 30) -> str:
    """Hold the executor until *flag* exists (the test creates it); return *name*."""
    record(name, phase="start")
    deadline = time.monotonic() + timeout
    while not os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.01)
    record(name, phase="end")
    return name


@task
def fail_until(name: str, marker: str) -> str:
    """Fail until *marker* exists: a task to requeue once "the bug is fixed"."""
    record(name)
    if not os.path.exists(marker):
        raise RuntimeError("not yet")
    return "fixed"


@task(store_result=False)
def tally(key: str) -> None:
    """One line per run in tally.jsonl: lost and duplicated runs show in the count."""
    fd = os.open(RESULTS / "tally.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps({"key": key, "pid": os.getpid()}) + "\n").encode())
    finally:
        os.close(fd)


@task
def echo_complex(name: str, value: complex = 1 + 2j) -> str:
    record(name, value=str(value))
    return str(value)


@task
def checksum(name: str, data: bytes) -> int:
    record(name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return len(data)


@task
def chain(name: str, hops: int) -> None:
    """Record, then spool the next hop from inside this task."""
    record(name, hops=hops, started=time.time())
    if hops > 0:
        handle = chain.spool(name, hops - 1)
        record(name, spooled=hops - 1, spooled_at=time.time(), spool_file=handle.spool_file)


@task
def where(name: str) -> str:
    record(name)
    return os.getcwd()


@task
def wander(name: str, to: str) -> None:
    """Leave the directory the task was run in (as careless code does)."""
    os.chdir(to)
    record(name)


@task(retry_count=2)
def retried(name: str) -> None:
    record(name)
    raise RetryTaskException(timeout=0)


@task
def ignored(name: str) -> None:
    record(name)
    raise Ignore("not needed")


def _deep_id() -> str | None:
    current = get_current_task()
    return current.id if current else None


@task(retry_count=2, retry_timeout=5)
def introspect(name: str) -> None:
    current = get_current_task()
    assert current is not None
    seen = {
        "attempt": current.attempt,
        "retry_count": current.retry_count,
        "retry_timeout": current.retry_timeout,
        "buffer": current.buffer,
        "deep": _deep_id(),
    }
    record(name, seen=json.dumps(seen))


@task(spooler_return=True)
def returns_code(name: str, code: Any) -> Any:
    record(name)
    return code


_BASE_EXCEPTIONS: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "SystemExit": SystemExit,
    "GeneratorExit": GeneratorExit,
}


@task
def raise_base(name: str, kind: str) -> None:
    """Raise a BaseException that is not an Exception (as Django's own test tasks do)."""
    record(name)
    raise _BASE_EXCEPTIONS[kind](f"{name} raised {kind}")


@task(retry=RetryPolicy(max_attempts=2))
def kill_self(name: str) -> None:
    """End the process running it, as the OOM killer, a segfault or spooler-harakiri would."""
    record(name)
    os.kill(os.getpid(), signal.SIGKILL)


@task
def kill_self_unretried(name: str) -> None:
    """The same, for a task without a retry policy."""
    record(name)
    os.kill(os.getpid(), signal.SIGKILL)


@task
def big_result(name: str, size: int) -> str:
    record(name)
    return "x" * size


@task(store_result=False)
def silent_note(name: str) -> None:
    record(name)


@task
def import_by_name(name: str, module: str) -> bool:
    """Import *module* at run time, wherever the task runs (a lazy import in user code)."""
    record(name)
    importlib.import_module(module)
    return True


@task(store_result=False)
def stamp(key: str, busy: float = 0.0) -> None:
    """When this task was due (sent, or its at= second) and when it started and ended, in stamps.jsonl:
    how late the spooler picked it up."""
    start = time.time()
    current = get_current_task()
    assert current is not None
    if busy:
        time.sleep(busy)
    line = {
        "key": key,
        "due": max(current.spec.enqueued_at, current.at or 0),
        "start": start,
        "end": time.time(),
        "pid": os.getpid(),
    }
    fd = os.open(RESULTS / "stamps.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)
