"""Benchmarks against the physical limit and the packages users would pick instead.

    python bench/run.py [--quick] [--reps N] [--spool-base DIR] [--out bench/results]
    nox -s bench

Starts one real uWSGI per contender (spool directories on tmpfs by default), runs every scenario
for every contender in alternation (A B C A B C ...), repeats, and writes a JSON file and a markdown
table of medians and spreads. Every figure that compares is a ratio to a baseline measured in the
same run, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from uwsgi_tasks import Remote  # noqa: E402 -- after the path is set
from uwsgi_tasks.testing import UwsgiServer, free_port, wait_until  # noqa: E402

APPS = HERE / "apps"
LEGACY = "uwsgi-tasks==0.7.3"

Row = dict[str, Any]


class Contender:
    """One uWSGI instance running one contender's bench app."""

    def __init__(
        self,
        name: str,
        app: str,
        base: Path,
        spool_base: Path,
        *,
        env: dict[str, str] | None = None,
        home: Path | None = None,
        uwsgi_socket: bool = False,
    ) -> None:
        self.name = name
        self.out = base / "out"
        self.out.mkdir(parents=True)
        spool = spool_base / f"{name.replace(' ', '_')}-{uuid.uuid4().hex[:8]}"
        spool.mkdir(parents=True)
        # A bigger mule queue for every contender alike, so a burst doesn't overflow it.
        options = [("spooler", str(spool)), ("mule-msg-size", str(4 * 1024 * 1024))]
        if home is not None:
            options.append(("home", str(home)))
        #: A uwsgi socket, for tasks sent from other processes (modifier1 17).
        self.socket_port = free_port() if uwsgi_socket else None
        if self.socket_port is not None:
            options.append(("socket", f"127.0.0.1:{self.socket_port}"))
        self.spool = spool
        self.server = UwsgiServer(
            base,
            wsgi_file=APPS / app,
            # The 0.7.3 contender imports its own uwsgi_tasks from its virtualenv: not this one.
            pythonpath=[APPS] if home is not None else [APPS, ROOT],
            processes=1,
            spoolers=0,
            mules=1,
            farms={},
            options=options,
            env={"BENCH_OUT": str(self.out), **(env or {})},
        )

    def start(self) -> Contender:
        self.server.start()
        return self

    def get(self, path: str, timeout: float = 600) -> Any:
        return self.server.get_json(path, timeout=timeout)

    def spooler_pid(self) -> int:
        return int(next(p for p in self.get("/info")["spooler_pids"] if p > 0))

    def marker(self, name: str, timeout: float) -> dict[str, Any]:
        path = self.out / name
        wait_until(
            path.exists,
            timeout,
            interval=0.005,
            message=f"{self.name}: no {name}\n{self.server.log()[-3000:]}",
        )
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def drained(self, timeout: float = 300) -> None:
        wait_until(lambda: not any(self.spool.rglob("uwsgi_spoolfile_on_*")), timeout, interval=0.02)


def legacy_home(cache: Path) -> Path:
    """A virtualenv with uwsgi-tasks 0.7.3 from the package index, for the same Python as uWSGI."""
    venv = cache / "uwsgi-tasks-0.7.3"
    if not (venv / "ok").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", LEGACY, "six"], check=True
        )
        (venv / "ok").touch()
    return venv


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def alternate(contenders: list[Contender], reps: int) -> Iterator[tuple[int, Contender]]:
    for rep in range(reps):
        for contender in contenders:
            yield rep, contender


def batch_id() -> str:
    return uuid.uuid4().hex[:12]


def enqueue_cost(contenders: list[Contender], reps: int, n: int, size: int = 0) -> dict[str, list[float]]:
    """Microseconds per send from a worker, with the spooler stopped (nothing competes for the CPU)."""
    found: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _, contender in alternate(contenders, reps):
        pid = contender.spooler_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            answer = contender.get(f"/enqueue?n={n}&size={size}&batch={batch_id()}")
        finally:
            os.kill(pid, signal.SIGCONT)
        found[contender.name].append(answer["seconds"] / n * 1e6)
        contender.drained()
    return found


def execution_rate(contenders: list[Contender], reps: int, n: int, size: int = 0) -> dict[str, list[float]]:
    """Tasks per second run by the spooler from a pre-filled queue of *n*."""
    found: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _, contender in alternate(contenders, reps):
        batch = batch_id()
        pid = contender.spooler_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            contender.get(f"/enqueue?n={n}&size={size}&batch={batch}")
        finally:
            os.kill(pid, signal.SIGCONT)
        done = contender.marker(f"done-{batch}", 600)
        found[contender.name].append((n - 1) / (done["last"] - done["first"]))
        contender.drained()
    return found


def mule_trips(contenders: dict[Contender, str], reps: int, n: int) -> dict[str, list[float]]:
    """Microseconds from a worker sending one small mule message to its task starting, the mule idle;
    the median of *n* trips per repetition. Keyed by the labels in *contenders*."""
    found: dict[str, list[float]] = {label: [] for label in contenders.values()}
    for _, contender in alternate(list(contenders), reps):
        trips = contender.get(f"/mule_trips?n={n}&batch={batch_id()}")["µs"]
        found[contenders[contender]].append(statistics.median(trips))
    return found


def mule_flood(contenders: dict[Contender, str], reps: int, n: int) -> dict[str, list[float]]:
    """Microseconds per small mule message, from the first of *n* sends in a row to the mule having
    run the last. Keyed by the labels in *contenders*."""
    found: dict[str, list[float]] = {label: [] for label in contenders.values()}
    for _, contender in alternate(list(contenders), reps):
        batch = batch_id()
        # Timed from the worker's first send: the HTTP request that asks for the burst is not in it.
        first_send = contender.get(f"/mule?n={n}&batch={batch}")["first_send"]
        done = contender.marker(f"done-{batch}", 60)
        found[contenders[contender]].append((done["last"] - first_send) / n * 1e6)
    return found


def chain_hops(contenders: list[Contender], hops: dict[str, int], timeout: float) -> dict[str, list[float]]:
    """Milliseconds from a task spooling the next hop (from inside itself) to that hop starting."""
    batches = {c.name: batch_id() for c in contenders}
    for contender in contenders:
        contender.get(f"/chain?hops={hops[contender.name]}&batch={batches[contender.name]}")
    found: dict[str, list[float]] = {}
    for contender in contenders:
        batch, latencies = batches[contender.name], []
        for hop in range(hops[contender.name] - 1, -1, -1):
            try:
                started = contender.marker(f"hop-{batch}-{hop}", timeout)["started"]
            except TimeoutError:
                latencies.append(timeout * 1000)
                break
            latencies.append((started - contender.marker(f"spooled-{batch}-{hop}", 1)["at"]) * 1000)
        found[contender.name] = latencies
    return found


def handle_latency(ours: Contender, samples: int) -> dict[str, list[float]]:
    """From the task finishing to handle.result() returning in a worker, and the waiter's CPU time."""
    latency, cpu = [], []
    for _ in range(samples):
        answer = ours.get("/handle?ms=200")
        latency.append(answer["latency"] * 1000)
        cpu.append(answer["waiter_cpu"] * 1000)
    return {"latency ms": latency, "waiter CPU ms per 200 ms wait": cpu}


Sender = Callable[[str, int], None]


def raw_network_sender(port: int) -> Sender:
    """The raw client: one modifier1 17 packet per task, the dict the raw app's spooler reads."""

    def send(batch: str, total: int) -> None:
        packet = b""
        for key, value in ((b"b", batch.encode()), (b"t", b"%d" % total)):
            packet += struct.pack("<H", len(key)) + key + struct.pack("<H", len(value)) + value
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(struct.pack("<BHB", 17, len(packet), 0) + packet)
            if conn.recv(4) != b"\xff\x00\x00\x01":
                raise RuntimeError("the raw packet was refused")

    return send


def our_network_sender(port: int, out: Path) -> Sender:
    """This package from a plain Python process: the ours app's task, sent with spooler=Remote(...)."""
    os.environ.setdefault("BENCH_OUT", str(out))
    sys.path.insert(0, str(APPS))
    noop = importlib.import_module("ours").noop.options(spooler=Remote(f"uwsgi://127.0.0.1:{port}"))

    def send(batch: str, total: int) -> None:
        noop.spool(batch, total, "")

    return send


def remote_enqueue(pairs: list[tuple[Contender, Sender]], reps: int, n: int) -> dict[str, list[float]]:
    """Microseconds per send from this (non-uWSGI) process to a contender's uwsgi socket, its spooler
    stopped; then the batch must run, every task of it."""
    found: dict[str, list[float]] = {c.name: [] for c, _ in pairs}
    for _ in range(reps):
        for contender, send in pairs:
            batch, pid = batch_id(), contender.spooler_pid()
            os.kill(pid, signal.SIGSTOP)
            try:
                start = time.perf_counter()
                for _ in range(n):
                    send(batch, n)
                found[contender.name].append((time.perf_counter() - start) / n * 1e6)
            finally:
                os.kill(pid, signal.SIGCONT)
            contender.marker(f"done-{batch}", 120)
            contender.drained()
    return found


def remote_latency(pairs: list[tuple[Contender, Sender]], samples: int) -> dict[str, list[float]]:
    """Milliseconds from sending one task to another instance to its spooler starting it."""
    found: dict[str, list[float]] = {c.name: [] for c, _ in pairs}
    for _ in range(samples):
        for contender, send in pairs:
            batch = batch_id()
            sent = time.time()
            send(batch, 1)
            found[contender.name].append((contender.marker(f"done-{batch}", 30)["first"] - sent) * 1000)
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError("no VmRSS")


def memory(ours: Contender, small: int, large: int) -> dict[str, float]:
    """Spooler RSS after *small* tasks and after *large* tasks."""

    def run(n: int) -> None:
        done = 0
        while done < n:
            step = min(5000, n - done)
            batch = batch_id()
            ours.get(f"/enqueue?n={step}&batch={batch}")
            ours.marker(f"done-{batch}", 300)
            done += step

    run(small)
    before = rss_kib(ours.spooler_pid())
    run(large - small)
    after = rss_kib(ours.spooler_pid())
    return {
        "rss after small MiB": before / 1024,
        "rss after large MiB": after / 1024,
        "growth MiB": (after - before) / 1024,
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    uwsgi = subprocess.run([_uwsgi_bin(), "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "uwsgi": uwsgi.stdout.strip(),
        "kernel": platform.release(),
    }


def code() -> str:
    """The commit measured (``git describe --always --dirty``), or "unknown" outside a checkout."""
    described = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def python_speed() -> float:
    """Microseconds this machine takes now for a fixed piece of pure Python (a small dict to JSON).

    Taken before and after a run: on a shared machine Python's speed moves more than the C-bound
    baselines', and with it every ratio to them; this shows whether a run fell in a slow hour.
    """
    data = {"function": "app.tasks:send", "task_id": "0" * 32, "args": ["x", 1, 2.5], "kwargs": {}}
    encode = json.JSONEncoder(separators=(",", ":")).encode
    n = 20_000
    best = min(timeit.repeat(lambda: encode(data), number=n, repeat=7))
    return best / n * 1e6


def _uwsgi_bin() -> str:
    from uwsgi_tasks.testing import find_uwsgi

    binary = find_uwsgi()
    if binary is None:
        raise SystemExit("no uwsgi binary: pip install uwsgi")
    return binary


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, Python "
        f"{results['machine']['python']}, uWSGI {results['machine']['uwsgi']}; "
        f"spool on {results['spool_base']}; "
        f"{results['reps']} alternating repetitions; code {results.get('code', 'unknown')}.",
        "",
    ]
    speed = results.get("python_speed_µs")
    if speed:
        lines += [
            f"Python speed check (a small dict to JSON, best of 7): {speed['before']:.2f} µs before the "
            f"run, {speed['after']:.2f} µs after. Ratios of Python-bound contenders to the C-bound "
            "baselines grow when this does.",
            "",
        ]
    for scenario, data in results["scenarios"].items():
        lines += [
            f"**{scenario}** ({data['unit']})",
            "",
            "| contender | median | min | max | vs baseline | best vs best |",
            "|---|---|---|---|---|---|",
        ]
        base = data.get("baseline")
        # The best repetition is the one least disturbed by the rest of a shared machine.
        best = "max" if data.get("higher_is_better") else "min"
        for name, stats in data["contenders"].items():
            ratio = best_ratio = ""
            if base:
                ratio = f"{stats['median'] / data['contenders'][base]['median']:.2f}×"
                best_ratio = f"{stats[best] / data['contenders'][base][best]:.2f}×"
            lines.append(
                f"| {name} | {stats['median']:.4g} | {stats['min']:.4g} | {stats['max']:.4g} | {ratio} "
                f"| {best_ratio} |"
            )
        if data.get("note"):
            lines += ["", data["note"]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of seconds: tiny sizes, no 0.7.3 venv, no 30 s chains",
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--spool-base",
        type=Path,
        default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
        help="where spool directories go (default: /dev/shm, tmpfs)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    quick = args.quick
    reps = 1 if quick else args.reps
    results: dict[str, Any] = {"reps": reps, "quick": quick, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="uwsgi-tasks-bench-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        spool_base = Path(tempfile.mkdtemp(prefix="uwsgi-tasks-bench-", dir=args.spool_base))
        stack.callback(subprocess.run, ["rm", "-rf", str(spool_base)], check=False)
        results["spool_base"] = str(args.spool_base or tempfile.gettempdir())
        results["machine"] = machine()
        results["code"] = code()
        results["python_speed_µs"] = {"before": python_speed()}

        def contender(name: str, app: str, **kwargs: Any) -> Contender:
            made = Contender(name, app, base / name.replace(" ", "_"), spool_base, **kwargs).start()
            stack.callback(made.server.stop)
            return made

        raw = contender("raw uwsgi.spool", "raw.py", uwsgi_socket=True)
        # Its files go where ours keep their outcome records: beside the spool directories, on the same
        # filesystem (tmpfs by default).
        writes = Path(tempfile.mkdtemp(prefix="raw-writes-", dir=spool_base))
        raw_write = contender("raw + one file write per task", "raw.py", env={"BENCH_WRITE": str(writes)})
        ours = contender("ours .spool()", "ours.py", uwsgi_socket=True)
        ours_call = contender("ours 0.7.3-style call", "ours.py", env={"BENCH_STYLE": "call"})
        ours_quiet = contender("ours store_result=False", "ours.py", env={"BENCH_STORE": "0"})
        others = (
            []
            if quick
            else [
                contender("uwsgidecorators.spool", "deco.py"),
                contender("uwsgi-tasks 0.7.3", "legacy.py", home=legacy_home(HERE / ".venvs")),
            ]
        )
        n_enqueue, n_exec = (50, 100) if quick else (2000, 20000)

        def record(
            title: str,
            unit: str,
            found: dict[str, list[float]],
            baseline: str | None,
            note: str = "",
            *,
            higher_is_better: bool = False,
        ) -> None:
            results["scenarios"][title] = {
                "unit": unit,
                "baseline": baseline,
                "higher_is_better": higher_is_better,
                "note": note,
                "contenders": {k: spread(v) for k, v in found.items() if v},
            }
            print(
                f"{title}: " + ", ".join(f"{k} {statistics.median(v):.4g}" for k, v in found.items() if v),
                flush=True,
            )

        record(
            "1. enqueue cost, small args, from a worker",
            "µs per call, lower is better",
            enqueue_cost([raw, ours, ours_call, *others], reps, n_enqueue),
            raw.name,
            "Target: ours ≤ 1.5× raw, and faster than 0.7.3.",
        )
        record(
            "2. execution throughput, no-op task, pre-filled queue",
            "tasks/s, higher is better",
            execution_rate([raw, raw_write, ours, ours_quiet, *others], reps, n_exec),
            raw.name,
            "Targets: ours (records its outcome) ≥ 0.8× raw + one file write; "
            "ours store_result=False ≥ 0.8× raw.",
            higher_is_better=True,
        )
        hops = {ours.name: 5 if quick else 50, **{c.name: 1 for c in others}}
        record(
            "3. chained hop latency, spooler-frequency at its default (30 s)",
            "ms per hop, lower is better",
            chain_hops([ours, *others], hops, 10 if quick else 40),
            None,
            "Target: median ≤ 5 ms for ours; the others wait for the spooler's next scan.",
        )
        record(
            "4. handle latency: task finished to result() returning in a worker",
            "ms, and waiter CPU ms",
            handle_latency(ours, 1 if quick else 20),
            None,
            "Target: median ≤ 20 ms, no CPU burned while waiting (CPU ms spent during a 200 ms wait).",
        )
        trips = 5 if quick else 100
        mules = {
            raw: "raw uwsgi.mule_msg",
            ours: "ours .mule()",
            ours_quiet: "ours .mule(), store_result=False",
            **({} if quick else {others[0]: "uwsgidecorators.mulefunc", others[1]: "uwsgi-tasks 0.7.3"}),
        }
        record(
            "5. mule round trip, small message, one at a time",
            "µs from the send to the task starting in the idle mule, lower is better",
            mule_trips(mules, reps, trips),
            mules[raw],
            "Target: ours ≤ 1.5× raw uwsgi.mule_msg. store_result=False is fire and forget, as raw "
            "is; by default a mule task records that it started before it runs (and how it ended, "
            f"after). Each figure is the median of {trips} trips.",
        )
        record(
            "5b. mule throughput, small messages sent in a burst",
            "µs per message, first send to last run, lower is better",
            mule_flood(mules, reps, 20 if quick else 200),
            mules[raw],
            "No target of its own: the path of 5 under load, where the cost is the Python on each "
            "side (encoding and sending in the worker, decoding and running in the mule), not the "
            "wake-up.",
        )
        kib = 1024
        sizes = [100, 70 * kib] if quick else [100, 10 * kib, 60 * kib, 70 * kib, 256 * kib, 1024 * kib]
        scaling: dict[str, list[float]] = {}
        for size in sizes:
            count = 20 if size >= 256 * kib or quick else 2000
            cost = enqueue_cost([raw, ours_quiet], reps, min(count, 200), size)
            rate = execution_rate([raw, ours_quiet], reps, count, size)
            for who, name in (("ours", ours_quiet.name), ("raw", raw.name)):
                scaling[f"{size} B: enqueue µs, {who}"] = cost[name]
                scaling[f"{size} B: run µs, {who}"] = [1e6 / r for r in rate[name]]
        record(
            "6. payload scaling",
            "µs per task, one bytes argument of the size shown",
            scaling,
            None,
            "Target: linear in size, with no step at the 64 KiB packet limit (60 KiB vs 70 KiB). Ours is "
            "store_result=False, so that neither side writes anything but the task. Raw uwsgi.spool() "
            "writes the payload and its spooler never reads it; ours encodes it (base64 in JSON) and "
            "decodes it before the task runs.",
        )
        assert raw.socket_port is not None and ours.socket_port is not None
        senders = [
            (raw, raw_network_sender(raw.socket_port)),
            (ours, our_network_sender(ours.socket_port, base / "sender")),
        ]
        record(
            "7. enqueue to another instance's spooler, from a plain Python process",
            "µs per send, lower is better",
            remote_enqueue(senders, reps, 20 if quick else 1000),
            raw.name,
            "Raw: a hand-built modifier1 17 packet per task. Ours: spooler=Remote(...), no shared store "
            "(with one, each send also writes a QUEUED record). Target: ours ≤ 1.5× raw.",
        )
        record(
            "8. latency to another instance's spooler, send to start",
            "ms, lower is better",
            remote_latency(senders, 3 if quick else 50),
            raw.name,
            "The receiving spooler is idle: uWSGI wakes it as the packet is spooled.",
        )
        small, large = (100, 300) if quick else (1000, 100_000)
        results["memory"] = memory(ours_quiet, small, large)
        print(f"9. memory: {results['memory']}", flush=True)
        results["python_speed_µs"]["after"] = python_speed()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if quick else "")
    (args.out / f"{stamp}.json").write_text(json.dumps(results, indent=2))
    text = table(results) + (
        f"\n**9. memory (ours)**: spooler RSS {results['memory']['rss after small MiB']:.1f} MiB "
        f"after {small} tasks, {results['memory']['rss after large MiB']:.1f} MiB after {large}: "
        f"+{results['memory']['growth MiB']:.2f} MiB (target ≤ 10 MiB).\n"
    )
    (args.out / f"{stamp}.md").write_text(text)
    print(f"wrote {args.out / stamp}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
