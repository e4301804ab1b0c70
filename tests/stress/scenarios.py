"""Reliability scenarios on a real uWSGI, each returning its figures.

The test suite runs them small (tests/integration/test_reliability.py); ``python -m tests.stress``
runs them at the sizes the README quotes and prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from uwsgi_tasks import _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, wait_until

Figures = dict[str, Any]

#: The secret the servers of these scenarios run with, as production should.
SECRET = "stress-secret-0123456789abcdef"


def _call(server: UwsgiServer, task: str, *args: Any) -> dict[str, Any]:
    query = json.dumps({"task": task, "via": "spool", "args": list(args)})
    answer: dict[str, Any] = server.get_json("/call?q=" + urllib.parse.quote(query))
    return answer


def _lines(server: UwsgiServer, name: str) -> list[dict[str, Any]]:
    path = Path(server.env["UT_RESULTS"]) / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


def _spooler_pid(server: UwsgiServer) -> int:
    pids = [pid for pid in server.get_json("/info")["spooler_pids"] if pid > 0]
    return int(pids[0])


def kill_spooler_during_tasks(server: UwsgiServer, trials: int, flags: Path) -> Figures:
    """SIGKILL the spooler while it runs a task; the respawned spooler must run the task again."""
    lost = 0
    for trial in range(trials):
        name, flag = f"killed-{trial}", flags / f"release-{trial}"
        _call(server, "block", name, str(flag))
        wait_until(lambda: _lines(server, name), 10)  # noqa: B023 -- used at once, in this iteration
        os.kill(_spooler_pid(server), signal.SIGKILL)
        try:
            wait_until(lambda: len(_lines(server, name)) >= 2, 10)  # noqa: B023 -- as above
        except TimeoutError:
            lost += 1
            continue
        flag.touch()
        try:
            wait_until(lambda: any(r["phase"] == "end" for r in _lines(server, name)), 10)  # noqa: B023
        except TimeoutError:
            lost += 1
    return {"kill -9 of the spooler during a task, trials": trials, "tasks lost": lost}


def concurrent_spools(server: UwsgiServer, workers: int, per_worker: int) -> Figures:
    """*workers* requests at once, each spooling *per_worker* tasks; count what ran."""
    errors: list[BaseException] = []

    def produce(w: int) -> None:
        try:
            server.get_json(f"/bulk?n={per_worker}&prefix=w{w}", timeout=300)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = workers * per_worker
    wait_until(lambda: len(_lines(server, "tally")) >= total, 300, interval=0.1)
    elapsed = time.monotonic() - started
    keys = [line["key"] for line in _lines(server, "tally")]
    return {
        "concurrent .spool() calls": f"{workers} workers x {per_worker}",
        "executed": len(set(keys)),
        "lost": total - len(set(keys)),
        "duplicates": len(keys) - len(set(keys)),
        "producer errors": len(errors),
        "seconds, send to last run": round(elapsed, 2),
    }


def restart_with_queued_tasks(server: UwsgiServer, queued: int, flag: Path) -> Figures:
    """Queue tasks behind a blocked spooler, kill the whole server, start it again: all must run."""
    _call(server, "block", "restart-blocker", str(flag))
    wait_until(lambda: _lines(server, "restart-blocker"), 10)
    server.get_json(f"/bulk?n={queued}&prefix=restart", timeout=120)
    server.stop()  # SIGKILL to every process: the harshest stop
    server.start()
    flag.touch()
    wait_until(lambda: len(_lines(server, "tally")) >= queued, 120, interval=0.1)
    keys = {line["key"] for line in _lines(server, "tally")}
    return {"tasks queued when the server was killed and restarted": queued, "executed": len(keys)}


def reload_with_queued_tasks(server: UwsgiServer, queued: int, flag: Path) -> Figures:
    """Queue tasks behind a blocked spooler, reload uWSGI gracefully (master fifo "r"): all run once."""
    _call(server, "block", "reload-blocker", str(flag))
    wait_until(lambda: _lines(server, "reload-blocker"), 10)
    server.get_json(f"/bulk?n={queued}&prefix=reload", timeout=120)
    before = _spooler_pid(server)
    with open(server.fifo, "wb") as fifo:
        fifo.write(b"r")
    wait_until(lambda: _answers_with_a_new_spooler(server, before), 60, interval=0.1)
    flag.touch()
    wait_until(lambda: len(_lines(server, "tally")) >= queued, 120, interval=0.1)
    keys = [line["key"] for line in _lines(server, "tally")]
    return {
        "tasks queued when uWSGI was reloaded": queued,
        "executed": len(set(keys)),
        "duplicates": len(keys) - len(set(keys)),
    }


def pickups_under_load(server: UwsgiServer, count: int, seed: int = 11, hogs: int = 2) -> Figures:
    """*count* tasks sent the ways that lose wake-ups (right after another finished, in bursts, after an
    idle spell, during busy spells, ``at`` a second ahead) while *hogs* processes burn the CPU (the
    spooler runs at nice 19): how late each started after it was due, or after the spooler finished
    the task before it, whichever is later.

    A lost wake-up shows as a task that waits for the next one to arrive, or for spooler-frequency
    (30 s by default): the idle spells make it show as a lateness over a second.
    """
    rng = random.Random(seed)
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(hogs)
    ]
    sent = 0
    try:
        while sent < count:
            kind = rng.random()
            if kind < 0.08:  # a burst, from one request
                n = min(rng.randint(5, 20), count - sent)
                server.get_json(f"/stamps?n={n}&prefix=burst{sent}")
            else:
                n = 1
                options: dict[str, Any] = {"at_in": 1} if kind < 0.14 else {}
                busy = rng.uniform(0.05, 0.3) if 0.14 <= kind < 0.2 else 0.0
                query = {"task": "stamp", "args": [f"one{sent}", busy], "options": options}
                server.get_json("/call?q=" + urllib.parse.quote(json.dumps(query)))
            sent += n
            time.sleep(rng.uniform(1.2, 2.0) if rng.random() < 0.05 else rng.uniform(0, 0.05))
        wait_until(lambda: len(_lines(server, "stamps")) >= count, 120, interval=0.1)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    late = _lateness(_lines(server, "stamps"))
    return {
        "tasks sent with random gaps while 2 processes burn the CPU": count,
        "started more than 1 s after due": sum(1 for x in late if x > 1.0),
        "worst lateness, s": round(max(late), 3),
        "median lateness, ms": round(sorted(late)[len(late) // 2] * 1000, 2),
    }


def _lateness(stamps: list[dict[str, Any]]) -> list[float]:
    """How late each task started: after it was due, or after its spooler ended the one before."""
    late = []
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for stamp in stamps:
        by_pid.setdefault(stamp["pid"], []).append(stamp)
    for runs in by_pid.values():
        runs.sort(key=lambda r: r["start"])
        free = float("-inf")
        for run in runs:
            late.append(run["start"] - max(run["due"], free))
            free = run["end"]
    return late


def _answers_with_a_new_spooler(server: UwsgiServer, before: int) -> bool:
    try:
        return _spooler_pid(server) not in (before, 0)
    except (OSError, IndexError, ValueError):
        return False  # reloading: no worker answers yet, or no spooler is up yet


class _Trap:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def _hostile_file(kind: str, rng: random.Random, markers: Path, n: int) -> bytes:
    """One malformed, truncated, forged or foreign spool file."""
    import base64
    import pickle

    trap = pickle.dumps(_Trap(str(markers / f"unpickled-{n}")))
    spec = TaskSpec("tests.integration.apps.itasks:tally", f"{n:032x}", time.time(), args=(str(n),))
    good = _codec.encode_spool(spec).message
    if kind == "random":
        return rng.randbytes(rng.randint(0, 300))
    if kind == "truncated":
        whole = _codec.pack_spool_file(good)
        return whole[: rng.randint(0, len(whole) - 1)]
    if kind == "bad-json":
        damaged = bytearray(good[b"task"])
        for _ in range(rng.randint(1, 5)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        return _codec.pack_spool_file({**good, b"task": bytes(damaged)})
    if kind in ("unsigned-pickle", "forged-pickle"):
        signature = b"" if kind == "unsigned-pickle" else b"\x01" + rng.randbytes(32)
        tree = json.loads(good[b"task"])
        tree["args"] = [{"$pickle": base64.b64encode(signature + trap).decode()}]
        return _codec.pack_spool_file({**good, b"task": json.dumps(tree).encode()})
    if kind == "legacy-pickle":
        return _codec.pack_spool_file(
            {b"function_name": b"os.system", b"args": trap, b"kwargs": trap, b"setup": trap}
        )
    if kind == "foreign":
        return _codec.pack_spool_file({b"ud_spool_func": b"x", b"args": rng.randbytes(20)})
    if kind == "wrong-version":
        return _codec.pack_spool_file({**good, b"uwsgi_tasks": b"9"})
    # "bad-task": valid JSON that is not a spec
    return _codec.pack_spool_file({**good, b"task": json.dumps({"args": [], "kwargs": {}, "x": 1}).encode()})


KINDS = (
    "random",
    "truncated",
    "bad-json",
    "unsigned-pickle",
    "forged-pickle",
    "legacy-pickle",
    "foreign",
    "wrong-version",
    "bad-task",
)


def hostile_spool_files(server: UwsgiServer, count: int, markers: Path, seed: int = 7) -> Figures:
    """Write *count* malformed, truncated, forged or foreign files where the spooler reads."""
    rng = random.Random(seed)
    spool = server.spool_dirs[0]
    pid = _spooler_pid(server)
    names: list[str] = []
    headless: list[str] = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        name = f"uwsgi_spoolfile_on_hostile_{kind}_{n}"
        data = _hostile_file(kind, rng, markers, n)
        temporary = spool / f".tmp-{name}"
        temporary.write_bytes(data)
        temporary.rename(spool / name)
        # uWSGI skips, forever, a file shorter than its 4-byte header: it may still be being written.
        (headless if len(data) < 4 else names).append(name)
    os.kill(pid, signal.SIGUSR1)
    wait_until(lambda: not any((spool / n).exists() for n in names), 300, interval=0.1)
    aside = spool / ".uwsgi_tasks" / "set_aside"
    set_aside = [n for n in names if (aside / n).exists() and (aside / f"{n}.reason.json").exists()]
    # Every kind but random and truncated bytes is a well-formed uwsgi packet: uWSGI hands each to Python.
    well_formed = [
        n
        for n in names
        if not n.startswith(("uwsgi_spoolfile_on_hostile_random", "uwsgi_spoolfile_on_hostile_truncated"))
    ]
    return {
        "well-formed files not set aside": len(set(well_formed) - set(set_aside)),
        "hostile files": count,
        "set aside with a reason": len(set_aside),
        "dropped by uWSGI's own packet parser before Python": len(names) - len(set_aside),
        "left alone by uWSGI (shorter than its 4-byte header)": len(headless),
        "pickles loaded": len(list(markers.iterdir())),
        "tasks run": len(_lines(server, "tally")),
        "spooler crashes": int(_spooler_pid(server) != pid),
    }


def result_store_races(directory: Path, seconds: float, writers: int = 4, readers: int = 4) -> Figures:
    """Processes writing and reading the same records at once; a torn record never shows."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    stop = context.Event()
    torn = context.Value("i", 0)
    reads = context.Value("i", 0)
    procs = [context.Process(target=_write_records, args=(str(directory), w, stop)) for w in range(writers)]
    procs += [
        context.Process(target=_read_records, args=(str(directory), stop, torn, reads))
        for _ in range(readers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(seconds)
    stop.set()
    for proc in procs:
        proc.join(30)
    return {
        "store: concurrent writers": writers,
        "readers": readers,
        "reads": reads.value,
        "torn reads": torn.value,
    }


def _write_records(directory: str, writer: int, stop: Any) -> None:
    from uwsgi_tasks import TaskStatus
    from uwsgi_tasks._outcomes._files import FileResultStore
    from uwsgi_tasks._outcomes._model import Outcome

    store = FileResultStore(directory)
    n = 0
    while not stop.is_set():
        n += 1
        value = {"writer": writer, "n": n, "pad": "x" * (n % 50_000)}
        store.put(Outcome("a" * 32, TaskStatus.SUCCEEDED, 1, 1.0, 2.0, value, True))


def _read_records(directory: str, stop: Any, torn: Any, reads: Any) -> None:
    from uwsgi_tasks._exceptions import DecodeError
    from uwsgi_tasks._outcomes._files import FileResultStore

    path = FileResultStore(directory).path_of("a" * 32)
    while not stop.is_set():
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        with reads.get_lock():
            reads.value += 1
        try:  # decoded here, not through get(), which would hide a torn record as "none"
            value = _codec.decode_outcome(data, "a" * 32).value
            whole = len(value["pad"]) == value["n"] % 50_000
        except (DecodeError, KeyError, TypeError):
            whole = False
        if not whole:
            with torn.get_lock():
                torn.value += 1
