"""The floor: uwsgi.spool() with a hand-built dict, a spooler callable that does nothing (or writes
one small file per task into the directory BENCH_WRITE names), and uwsgi.mule_msg with a mule hook."""

from __future__ import annotations

import os
import time

import uwsgi
from _benchapp import make_app, note, ran

WRITE = os.environ.get("BENCH_WRITE")


def spooler(env: dict[object, bytes]) -> int:
    batch, total = env[b"b"].decode(), int(env[b"t"])
    if b"hop" in env:
        note(f"hop-{batch}-{int(env[b'hop'])}", {"started": time.time()})
        if int(env[b"hop"]) > 0:
            chain(batch, int(env[b"hop"]) - 1)
        return uwsgi.SPOOL_OK
    if WRITE:
        with open(os.path.join(WRITE, f"{os.getpid()}-{time.perf_counter_ns()}"), "w") as f:
            f.write("x")
    ran(batch, total)
    return uwsgi.SPOOL_OK


def mule_hook(message: bytes) -> None:
    batch, _, total = message.decode().partition(":")
    ran(batch, int(total))


uwsgi.spooler = spooler
uwsgi.mule_msg_hook = mule_hook


def enqueue(batch: str, total: int, size: int) -> None:
    uwsgi.spool(
        {b"b": batch.encode(), b"t": b"%d" % total, b"body": b"x" * size}
        if size
        else {b"b": batch.encode(), b"t": b"%d" % total}
    )


def mule(batch: str, total: int) -> None:
    uwsgi.mule_msg(f"{batch}:{total}".encode(), 1)


def chain(batch: str, hops: int) -> None:
    note(f"spooled-{batch}-{hops}", {"at": time.time()})
    uwsgi.spool({b"b": batch.encode(), b"t": b"0", b"hop": b"%d" % hops})


application = make_app(__import__(__name__))
