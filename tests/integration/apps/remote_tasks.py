"""Tasks sent from one instance (or a plain Python process) to another's spooler.

Importable outside uWSGI: the tests' own process is a producer too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from uwsgi_tasks import SPOOL_OK, SPOOL_RETRY, RetryPolicy, get_current_task, task


@task
def where(name: str) -> dict[str, Any]:
    """Which instance ran it (UT_INSTANCE), and when."""
    current = get_current_task()
    return {
        "name": name,
        "instance": os.environ.get("UT_INSTANCE"),
        "pid": os.getpid(),
        "attempt": current.attempt if current else None,
        "time": time.time(),
    }


@task
def size_of(data: bytes) -> int:
    return len(data)


@task
def wait_for(flag: str, timeout: float = 30) -> str:
    """Runs until *flag* exists: long enough to be seen RUNNING."""
    deadline = time.monotonic() + timeout
    while not Path(flag).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(flag)
        time.sleep(0.01)
    return "released"


@task(spooler_return=True)
def wait_then_keep(flag: str, marker: str) -> int:
    """Runs until *flag* exists, then leaves its file for uWSGI to run again (once)."""
    wait_for.fn(flag)
    if Path(marker).exists():
        return SPOOL_OK
    Path(marker).touch()
    return SPOOL_RETRY


@task(retry=RetryPolicy(max_attempts=3, delay=1))
def fails_once(marker: str) -> int:
    """Fails its first attempt (retried a second later on the instance that runs it)."""
    current = get_current_task()
    assert current is not None
    if current.attempt == 1:
        Path(marker).touch()
        raise ConnectionError("first attempt")
    return current.attempt


@task
def relay(target: str, name: str) -> dict[str, Any]:
    """Send `where` on to *target* from wherever this runs (a spooler, a mule) and wait for it."""
    result: dict[str, Any] = where.options(spooler=target).spool(name).result(timeout=10)
    return {**result, "relayed_by": os.environ.get("UT_INSTANCE")}
