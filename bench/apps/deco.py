"""uwsgidecorators.spool and .mulefunc, as shipped with uWSGI (spool arguments are str values; @spool
returns SPOOL_OK; a mulefunc call is a pickle sent to the mule)."""

from __future__ import annotations

import time

from _benchapp import make_app, note, ran
from uwsgidecorators import mulefunc, spool


@spool
def noop(arguments: dict[str, str]) -> None:
    if "hop" in arguments:
        note(f"hop-{arguments['b']}-{arguments['hop']}", {"started": time.time()})
        if int(arguments["hop"]) > 0:
            chain(arguments["b"], int(arguments["hop"]) - 1)
        return
    ran(arguments["b"], int(arguments["t"]))


@mulefunc(1)
def mule_noop(batch: str, total: int) -> None:
    ran(batch, total)


def enqueue(batch: str, total: int, size: int) -> None:
    noop.spool(b=batch, t=str(total), p="x" * size)


def mule(batch: str, total: int) -> None:
    mule_noop(batch, total)


def chain(batch: str, hops: int) -> None:
    note(f"spooled-{batch}-{hops}", {"at": time.time()})
    noop.spool(b=batch, t="0", hop=str(hops))


application = make_app(__import__(__name__))
