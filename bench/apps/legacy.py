"""uwsgi-tasks 0.7.3 from the package index, in its own virtualenv (the package this one replaces)."""

from __future__ import annotations

import time

from _benchapp import make_app, note, ran

from uwsgi_tasks import TaskExecutor, task


@task(executor=TaskExecutor.SPOOLER)
def noop(batch: str, total: int, payload: str) -> None:
    ran(batch, total)


@task(executor=TaskExecutor.MULE)
def mule_noop(batch: str, total: int) -> None:
    ran(batch, total)


@task(executor=TaskExecutor.SPOOLER)
def hop(batch: str, hops: int) -> None:
    note(f"hop-{batch}-{hops}", {"started": time.time()})
    if hops > 0:
        chain(batch, hops - 1)


def enqueue(batch: str, total: int, size: int) -> None:
    noop(batch, total, "x" * size)


def mule(batch: str, total: int) -> None:
    mule_noop(batch, total)


def chain(batch: str, hops: int) -> None:
    note(f"spooled-{batch}-{hops}", {"at": time.time()})
    hop(batch, hops)


application = make_app(__import__(__name__))
