"""This package: .spool() (BENCH_STYLE=spool, the default) or the 0.7.3-style call (BENCH_STYLE=call);
BENCH_STORE=0 runs tasks with store_result=False.

The small-argument scenarios send what every other contender sends (two str and an int); the payload
scenario sends one bytes argument of the size it names."""

from __future__ import annotations

import os
import resource
import time
from typing import Any

from _benchapp import make_app, note, ran

from uwsgi_tasks import TaskExecutor, configure, task

# Tasks sent from another process (the benchmark's own, by network) name this module as "ours", not
# as uWSGI's wsgi-file loader names it: the spooler may import it for them.
configure(task_modules=["ours"])

STORE = os.environ.get("BENCH_STORE", "1") == "1"
CALL = os.environ.get("BENCH_STYLE") == "call"


@task(executor=TaskExecutor.SPOOLER, store_result=STORE)
def noop(batch: str, total: int, payload: bytes | str) -> None:
    ran(batch, total)


@task(executor=TaskExecutor.MULE, store_result=STORE)
def mule_noop(batch: str, total: int) -> None:
    ran(batch, total)


@task(executor=TaskExecutor.SPOOLER)
def hop(batch: str, hops: int) -> None:
    note(f"hop-{batch}-{hops}", {"started": time.time()})
    if hops > 0:
        chain(batch, hops - 1)


@task(executor=TaskExecutor.SPOOLER)
def sleeper(ms: int) -> float:
    time.sleep(ms / 1000)
    return time.time()


def enqueue(batch: str, total: int, size: int) -> None:
    payload = b"x" * size if size else ""
    if CALL:
        noop(batch, total, payload)
    else:
        noop.spool(batch, total, payload)


def mule(batch: str, total: int) -> None:
    mule_noop.mule(batch, total)


def chain(batch: str, hops: int) -> None:
    note(f"spooled-{batch}-{hops}", {"at": time.time()})
    hop.spool(batch, hops)


def handle(ms: int) -> dict[str, Any]:
    sent = sleeper.spool(ms)
    cpu_before = resource.getrusage(resource.RUSAGE_THREAD)
    finished = sent.result(timeout=30)
    returned = time.time()
    cpu_after = resource.getrusage(resource.RUSAGE_THREAD)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"latency": returned - finished, "waiter_cpu": cpu, "waited": ms / 1000}


application = make_app(__import__(__name__))
