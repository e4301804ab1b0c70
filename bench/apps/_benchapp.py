"""The plumbing every contender's bench app shares (stdlib only: the 0.7.3 app runs in its own venv).

A contender module defines ``enqueue(batch, total, size)`` (send one task), optionally ``mule(batch,
total)``, ``chain(batch, hops)`` and ``handle(ms)``; its task functions call `ran(batch, total)`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

OUT = os.environ["BENCH_OUT"]

_counts: dict[str, int] = {}
_first: dict[str, float] = {}


def ran(batch: str, total: int) -> None:
    """Count one executed task of *batch*; the last one writes when the first and last ran."""
    now = time.perf_counter()
    count = _counts.get(batch, 0) + 1
    _counts[batch] = count
    if count == 1:
        _first[batch] = time.time() - (time.perf_counter() - now)
    if count == total:
        _write(f"done-{batch}", {"first": _first[batch], "last": time.time(), "pid": os.getpid()})


def _write(name: str, data: dict[str, Any]) -> None:
    temporary = os.path.join(OUT, f".{name}.tmp")
    with open(temporary, "w") as f:
        json.dump(data, f)
    os.replace(temporary, os.path.join(OUT, name))


def note(name: str, data: dict[str, Any]) -> None:
    _write(name, data)


def _mule_trips(contender: Any, batch: str, n: int) -> list[float]:
    """Microseconds from sending one message to its task starting in the mule, *n* times, one at a
    time: the mule is idle at every send, so each trip includes waking it."""
    trips = []
    for i in range(n):
        name = f"{batch}-{i}"
        marker = os.path.join(OUT, f"done-{name}")
        sent = time.time()
        contender.mule(name, 1)
        deadline = time.monotonic() + 10
        while not os.path.exists(marker):
            if time.monotonic() > deadline:
                raise TimeoutError(f"mule message {name} did not run in 10 s")
            time.sleep(0.0005)
        with open(marker) as f:
            trips.append((json.load(f)["first"] - sent) * 1e6)
    return trips


def make_app(contender: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        query = {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        path = environ["PATH_INFO"]
        body: Any = {"ok": True}
        if path == "/enqueue":
            n, size, batch = int(query["n"]), int(query.get("size", 0)), query["batch"]
            total = int(query.get("total", n))
            start = time.perf_counter()
            for _ in range(n):
                contender.enqueue(batch, total, size)
            body = {"seconds": time.perf_counter() - start, "n": n}
        elif path == "/mule":
            n, batch = int(query["n"]), query["batch"]
            first_send = time.time()
            for _ in range(n):
                contender.mule(batch, n)
            body = {"first_send": first_send}
        elif path == "/mule_trips":
            body = {"µs": _mule_trips(contender, query["batch"], int(query["n"]))}
        elif path == "/chain":
            contender.chain(query["batch"], int(query["hops"]))
        elif path == "/handle":
            body = contender.handle(int(query["ms"]))
        elif path == "/info":
            import uwsgi

            body = {"spooler_pids": list(uwsgi.spooler_pids()) if hasattr(uwsgi, "spooler_pids") else []}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return application
