"""Untrusted data on a real uWSGI: what an attacker can put in a spool directory, a packet, a mule message
or a result record never imports, unpickles or runs anything that was not sent by a holder of the
secret, never writes another task's outcome, and never runs a task twice.

Every test here failed on the code before the hardening issue (each is named after what it proves).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import uwsgi_tasks
from tests.integration.conftest import (
    ServerFactory,
    _factory,
    call,
    kick_spoolers,
    records,
    results_dir,
    wait_records,
)
from tests.integration.test_spooler import _write_spool_file
from uwsgi_tasks import RetryPolicy, TaskHandle, TaskStatus, _codec
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, free_port, wait_until

pytestmark = pytest.mark.integration

SECRET = "attacks-secret-0123456789abcdef"
TRAP = "tests.integration.apps.import_trap"
NOTE = "tests.integration.apps.itasks:note"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str) -> Iterator[UwsgiServer]:
    """No secret (the default): whoever can write a spool file is trusted to run registered tasks."""
    for start in _factory(tmp_path_factory.mktemp("open"), uwsgi_binary):
        yield start(mules=1, farms={}, spooler_frequency=1)


@pytest.fixture(scope="module")
def packet_port() -> int:
    """The uwsgi socket of `signed_server`, which takes spool packets from the network."""
    return free_port()


@pytest.fixture(scope="module")
def signed_server(
    tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str, packet_port: int
) -> Iterator[UwsgiServer]:
    """A secret everywhere."""
    for start in _factory(tmp_path_factory.mktemp("signed"), uwsgi_binary):
        yield start(
            mules=1,
            farms={},
            spooler_frequency=1,
            options=[("env", f"UWSGITASKS_SECRET={SECRET}"), ("socket", f"127.0.0.1:{packet_port}")],
        )


def imported(server: UwsgiServer) -> list[dict[str, Any]]:
    """Processes of *server* that imported the trap module."""
    return records(server, "imported")


def spooler_pid(server: UwsgiServer) -> int:
    return int(next(pid for pid in server.get_json("/info")["spooler_pids"] if pid > 0))


def set_aside(server: UwsgiServer, path: Path, timeout: float = 10) -> dict[str, Any]:
    """Wait until *path* is set aside; its reason note."""
    note = server.spool_dirs[0] / ".uwsgi_tasks" / "set_aside" / f"{path.name}.reason.json"
    wait_until(note.exists, timeout, message=f"{path.name} not set aside:\n{server.log()[-4000:]}")
    reason: dict[str, Any] = json.loads(note.read_text())
    return reason


def encoded(spec: TaskSpec, secret: str | None = None) -> dict[bytes, bytes]:
    """The spool message of *spec*, signed with *secret* (None: unsigned)."""
    uwsgi_tasks.configure(secret=secret)
    try:
        return _codec.encode_spool(spec).message
    finally:
        uwsgi_tasks.configure(secret=None)


def edited(message: dict[bytes, bytes], edit: Any) -> dict[bytes, bytes]:
    """Unsigned *message* with its task JSON changed by *edit*."""
    tree = json.loads(message[b"task"])
    edit(tree)
    return {**message, b"task": json.dumps(tree).encode()}


def new_id() -> str:
    return os.urandom(16).hex()


# 1. Code planted in the spool directory never runs.


def test_no_process_imports_a_module_planted_in_the_spool_directory(
    uwsgi_server: ServerFactory, redis_url: str
) -> None:
    """uWSGI's sys.path starts with '.' and '' and the spooler runs in its spool directory: a redis.py
    planted there, a module named by a spool file, and a task's own lazy import never load from it."""
    server = uwsgi_server(
        "planted", mules=0, spooler_frequency=1, options=[("env", f"UWSGITASKS_RESULT_STORE={redis_url}")]
    )
    spool = server.spool_dirs[0]
    for name in ("redis", "planted_evil", "planted_lazy"):
        (spool / f"{name}.py").write_text(
            "import os\n"
            f"open(os.path.join({str(results_dir(server))!r}, 'planted.jsonl'), 'a').write("
            f'\'{{"module": "{name}"}}\\n\')\n'
            "def x(): pass\n"
        )
    # The first task reaches the Redis store in the spooler (the master never used it).
    assert call(server, "note", "first", wait=10)["status"] == "succeeded"
    # A spool file naming a module that only exists in the spool directory.
    evil = _write_spool_file(spool, encoded(TaskSpec("planted_evil:x", new_id(), time.time())))
    kick_spoolers(server)
    assert "registered" in set_aside(server, evil)["reason"]
    # A task importing lazily while it runs in the spool directory (working_dir=None).
    answer = call(server, "import_by_name", "lazy", "planted_lazy", options={"working_dir": None}, wait=10)
    assert answer["error"] == "TaskFailed" and "ModuleNotFoundError" in answer["message"], answer
    assert records(server, "planted") == []


# 2. Wire data imports nothing; BaseException never ends a spooler or a mule.


def test_unverified_data_reaches_only_registered_tasks_and_imported_types(open_server: UwsgiServer) -> None:
    """Without a secret a spool file can name a registered task with JSON values of types already
    imported, nothing else: a task, a $obj or $enum class, or a retry_on class in a module no process
    imported is refused before anything is imported."""
    spool = open_server.spool_dirs[0]
    note = encoded(TaskSpec(NOTE, new_id(), time.time(), args=("never",)))
    retrying = encoded(TaskSpec(NOTE, new_id(), time.time(), args=("never",), retry=RetryPolicy()))
    messages = {
        "function": encoded(TaskSpec(f"{TRAP}:trap_task", new_id(), time.time())),
        "obj": edited(note, lambda t: t.update(args=["never", {"$obj": [f"{TRAP}:Thing", {"x": 1}]}])),
        "enum": edited(note, lambda t: t.update(args=["never", {"$enum": [f"{TRAP}:Colour", 1]}])),
        "retry_on": edited(retrying, lambda t: t["retry"].update(retry_on=[f"{TRAP}:TrapError"])),
        "lazy module": encoded(TaskSpec("tests.integration.apps.lazy_tasks:lazy_note", new_id(), 0.0)),
    }
    paths = {kind: _write_spool_file(spool, message) for kind, message in messages.items()}
    kick_spoolers(open_server)
    reasons = {kind: set_aside(open_server, path)["reason"] for kind, path in paths.items()}
    assert "not a registered task" in reasons["function"], reasons
    assert "not a registered task" in reasons["lazy module"], reasons
    for kind in ("obj", "enum", "retry_on"):
        assert "not imported" in reasons[kind], reasons
    # The same through a mule.
    mule_message = _codec.MULE_MAGIC + b"-" + messages["function"][b"task"]
    assert open_server.get_json("/mule-raw?m=" + urllib.parse.quote(mule_message))["sent"] is True
    wait_until(lambda: f"{TRAP}:trap_task" in open_server.log(), 10)
    assert imported(open_server) == []
    assert records(open_server, "never") == []


def test_a_declared_module_is_imported_on_demand_and_an_undeclared_one_is_not(
    uwsgi_server: ServerFactory,
) -> None:
    """configure(task_modules=...) names the modules a spooler may import for an unsigned task: it
    imports the module the worker sent from, and runs that task itself (no re-dispatch, 0.7.3's bug)."""
    server = uwsgi_server(
        "declared", mules=0, spooler_frequency=1, env={"UT_TASK_MODULES": "tests.integration.apps.lazy_tasks"}
    )
    handle = call(server, "lazy_note", "declared", module="tests.integration.apps.lazy_tasks", wait=10)
    assert handle["status"] == "succeeded", handle
    (record,) = records(server, "declared")
    assert record["role"] == "spooler" and record["task_id"] == handle["id"]
    trap = _write_spool_file(server.spool_dirs[0], encoded(TaskSpec(f"{TRAP}:trap_task", new_id(), 0.0)))
    kick_spoolers(server)
    assert "task_modules" in set_aside(server, trap)["reason"]
    assert imported(server) == []


def test_a_signed_task_may_import_its_module_and_systemexit_there_never_ends_the_spooler(
    signed_server: UwsgiServer,
) -> None:
    """A task verified against the secret may import its module; one whose import raises SystemExit
    (as ``venv.__main__`` does) is set aside once, and the spooler lives on."""
    spool = signed_server.spool_dirs[0]
    pid = spooler_pid(signed_server)
    lazy = _write_spool_file(
        spool,
        encoded(
            TaskSpec("tests.integration.apps.lazy_tasks:lazy_note", new_id(), 0.0, args=("signed-lazy",)),
            SECRET,
        ),
    )
    exits = _write_spool_file(
        spool,
        encoded(TaskSpec("tests.integration.apps.exits_at_import:never_defined", new_id(), 0.0), SECRET),
    )
    kick_spoolers(signed_server)
    wait_records(signed_server, "signed-lazy")
    assert "SystemExit" in set_aside(signed_server, exits)["reason"]
    time.sleep(2)  # two scans at spooler-frequency 1: nothing reruns
    assert spooler_pid(signed_server) == pid
    assert not lazy.exists() and not exits.exists()
    assert signed_server.log().count("exits_at_import: SystemExit at import") == 1


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "SystemExit", "GeneratorExit"])
@pytest.mark.parametrize("via", ["spool", "mule"])
def test_a_task_raising_a_base_exception_fails_once_and_the_process_lives_on(
    open_server: UwsgiServer, kind: str, via: str
) -> None:
    """A BaseException from a task ends it FAILED once (its spool file set aside), never the process."""
    pids = open_server.get_json("/info")["spooler_pids"]
    name = f"base-{kind}-{via}"
    sent = call(open_server, "raise_base", name, kind, via=via)
    handle = open_server.handle(sent["id"])
    with pytest.raises(uwsgi_tasks.TaskFailed) as failed:
        handle.result(timeout=10)
    assert failed.value.type_path == f"builtins.{kind}"
    if via == "spool":
        time.sleep(1.5)  # a scan at spooler-frequency 1 would run a kept file again
    assert len(records(open_server, name)) == 1
    assert open_server.get_json("/info")["spooler_pids"] == pids
    if via == "mule":
        assert call(open_server, "note", f"after-{name}", via="mule", wait=10)["status"] == "succeeded"


# 3. Forged ids fail no one; 4. replays never run.


def test_refused_files_write_no_outcome_for_the_id_they_claim(signed_server: UwsgiServer) -> None:
    """Unsigned, forged and poisoned files naming a genuine scheduled task's id are set aside under
    their own names; the genuine task stays SCHEDULED."""
    genuine = call(signed_server, "note", "genuine", options={"at_in": 3600})
    handle = signed_server.handle(genuine["id"])
    spec = TaskSpec(NOTE, genuine["id"], time.time(), args=("forged",))
    unsigned = encoded(spec)
    forged = {**unsigned, b"sig": b"\x00" * 32}
    poisoned = edited(unsigned, lambda t: t.update(attempt=float("inf")))
    spool = signed_server.spool_dirs[0]
    paths = [_write_spool_file(spool, m) for m in (unsigned, forged, poisoned)]
    kick_spoolers(signed_server)
    reasons = [set_aside(signed_server, path) for path in paths]
    assert all(reason["task_id"] is None for reason in reasons), reasons
    assert handle.status is TaskStatus.SCHEDULED
    assert records(signed_server, "forged") == []
    Path(genuine["spool_file"]).unlink()


def test_a_signed_spool_file_copied_back_never_runs_twice(signed_server: UwsgiServer, tmp_path: Path) -> None:
    """A signed file captured while queued and copied back after the task ran is set aside, for a task
    that records its result and for a store_result=False one."""
    spool = signed_server.spool_dirs[0]
    for task, name in (("note", "replayed"), ("silent_note", "replayed-silent")):
        flag = tmp_path / f"go-{name}"
        call(signed_server, "block", f"blocker-{name}", str(flag))
        wait_records(signed_server, f"blocker-{name}")
        original = Path(call(signed_server, task, name)["spool_file"])
        captured = original.read_bytes()  # queued behind the blocker
        flag.touch()
        wait_records(signed_server, name)
        wait_until(lambda: not original.exists(), 10)  # noqa: B023 -- used at once
        copy = spool / f"uwsgi_spoolfile_on_replay_{name}"
        copy.write_bytes(captured)
        kick_spoolers(signed_server)
        assert "already" in set_aside(signed_server, copy)["reason"]
        assert len(records(signed_server, name)) == 1


def test_a_signed_packet_sent_twice_runs_once(signed_server: UwsgiServer, packet_port: int) -> None:
    """A captured modifier1 17 packet (a task sent over the network) replayed later is set aside."""
    uwsgi_tasks.configure(secret=SECRET)
    try:
        spec = TaskSpec(NOTE, new_id(), time.time(), args=("packet",))
        packet = _codec.network_packet(_codec.spool_message(_codec.outgoing(spec), with_at=False))
    finally:
        uwsgi_tasks.configure(secret=None)
    assert packet is not None
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", packet_port), timeout=5) as conn:
            conn.sendall(packet)
            assert conn.recv(4) == b"\xff\x00\x00\x01"  # spooled
        wait_records(signed_server, "packet")
    aside = signed_server.spool_dirs[0] / ".uwsgi_tasks" / "set_aside"
    wait_until(
        lambda: any("already" in json.loads(p.read_text())["reason"] for p in aside.glob("*.reason.json")),
        10,
    )
    time.sleep(1)
    assert len(records(signed_server, "packet")) == 1


# 5. Records and notes are never trusted blindly.


def forge_record(spool_dir: Path, task_id: str, value: Any) -> None:
    """An outcome record written by someone who can write the results directory, without the secret."""
    results = spool_dir / ".uwsgi_tasks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    record = {"task_id": task_id, "status": "succeeded", "attempts": 1, "started_at": 1.0}
    record |= {"finished_at": 2.0, "has_value": True, "value": value}
    (results / task_id).write_text(json.dumps(record))


def test_a_forged_record_imports_nothing_and_is_ignored_with_a_secret(tmp_path: Path) -> None:
    """Reading a record never imports a module named by its value; with a secret an unsigned record
    is no record at all."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    task_id = new_id()
    forge_record(spool_dir, task_id, {"$obj": [f"{TRAP}:Thing", {"x": 1}]})
    handle = TaskHandle.from_id(task_id, spool_dir)
    assert handle.status is TaskStatus.UNKNOWN  # unreadable: the type was never imported here
    assert TRAP not in sys.modules
    forge_record(spool_dir, task_id, 42)
    uwsgi_tasks.configure(secret=SECRET)
    try:
        assert TaskHandle.from_id(task_id, spool_dir).status is TaskStatus.UNKNOWN
    finally:
        uwsgi_tasks.configure(secret=None)
    assert TaskHandle.from_id(task_id, spool_dir).result(timeout=0) == 42  # without a secret, trusted


# 13. The signature covers what changes what runs.


@pytest.mark.parametrize(("key", "value"), [(b"at", b"1"), (b"priority", b"0")], ids=["at", "priority"])
def test_uwsgis_own_keys_are_covered_by_the_signature(
    signed_server: UwsgiServer, key: bytes, value: bytes
) -> None:
    """A signed scheduled task whose uWSGI 'at' or 'priority' key was changed is refused, not run early."""
    at = int(time.time()) + 3600
    message = encoded(
        TaskSpec(NOTE, new_id(), time.time(), args=(f"moved-{key.decode()}",), at=at, priority=1), SECRET
    )
    tampered = {**message, key: value}
    path = _write_spool_file(signed_server.spool_dirs[0], tampered)
    kick_spoolers(signed_server)
    assert "does not verify" in set_aside(signed_server, path)["reason"]
    assert records(signed_server, f"moved-{key.decode()}") == []


def test_an_empty_secret_variable_is_refused_at_start(uwsgi_server: ServerFactory) -> None:
    """UWSGITASKS_SECRET set but empty is a configuration error, never 'no secret'."""
    with pytest.raises(RuntimeError) as exited:
        uwsgi_server("empty", mules=0, options=[("env", "UWSGITASKS_SECRET=")])
    assert "UWSGITASKS_SECRET is set but empty" in str(exited.value)


def test_a_signed_file_copied_where_it_was_not_sent_never_runs(signed_server: UwsgiServer) -> None:
    """A captured signed file (scheduled an hour ahead) copied into a directory uWSGI also scans but
    that is no priority directory, into a priority it was not given, or back with its mtime made due
    now: the copies are set aside, or spooled again until their signed ``at``; none runs early."""
    original = call(signed_server, "note", "misplaced", options={"at_in": 3600})
    captured = Path(original["spool_file"]).read_bytes()
    spool = signed_server.spool_dirs[0]
    nested = spool / "uwsgi_spoolfile_on_dir" / "uwsgi_spoolfile_on_nested"
    deeper = spool / "7" / "3" / "uwsgi_spoolfile_on_deeper"
    priority = spool / "4" / "uwsgi_spoolfile_on_priority"
    early = spool / "uwsgi_spoolfile_on_early"
    for copy in (nested, deeper, priority, early):
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(captured)  # its mtime: now, so uWSGI takes it as due
    kick_spoolers(signed_server)
    aside = spool / ".uwsgi_tasks" / "set_aside"
    for copy in (nested, deeper, priority):
        wait_until(lambda: (aside / f"{copy.name}.reason.json").exists(), 10)  # noqa: B023 -- used at once
    wait_until(lambda: not early.exists(), 10)  # spooled again, due in an hour
    time.sleep(1.5)  # a scan at spooler-frequency 1 would have run anything due
    assert records(signed_server, "misplaced") == []
    assert signed_server.handle(original["id"]).status is TaskStatus.SCHEDULED


def test_a_spool_file_too_large_to_read_is_set_aside_before_uwsgi_reads_it(
    uwsgi_server: ServerFactory, tmp_path: Path
) -> None:
    """uWSGI allocates a spool file's whole body before any Python runs: a sparse 64 GiB file would end
    the spooler at every scan. The spooler's watchdog sets it aside first, and tasks run."""
    spool = tmp_path / "huge" / "spool0"
    spool.mkdir(parents=True)
    huge = spool / "uwsgi_spoolfile_on_0huge"
    with huge.open("wb") as f:
        f.write(b"\x11\x04\x00\x00abcd")
        f.truncate(64 << 30)
    server = uwsgi_server("huge", mules=0, spooler_frequency=1)
    assert server.spool_dirs[0] == spool
    note = spool / ".uwsgi_tasks" / "set_aside" / f"{huge.name}.reason.json"
    wait_until(note.exists, 10)
    assert "limit" in json.loads(note.read_text())["reason"]
    pid = spooler_pid(server)
    assert call(server, "note", "after-huge", wait=10)["status"] == "succeeded"
    assert spooler_pid(server) == pid
