"""Beyond one machine: two real uWSGI instances on 127.0.0.1 stand in for two hosts, A and B, sharing a
real Redis as the result store. Tasks go from A (or a plain Python process) to B's spooler over B's
uwsgi socket; handles follow them through the store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import uwsgi_tasks
from tests.integration.apps import remote_tasks
from tests.integration.conftest import ServerFactory, call
from uwsgi_tasks import Remote, SpoolDirectory, SpoolError, TaskHandle, TaskStatus, _codec
from uwsgi_tasks._codec import _signing
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, free_port, wait_until

pytestmark = pytest.mark.integration

SECRET = "remote-secret-0123456789abcdef"
TASKS = "tests.integration.apps.remote_tasks"


class Hosts:
    """A and B, each with a uwsgi socket (for packets from the other) and the shared store."""

    def __init__(self, a: UwsgiServer, b: UwsgiServer, a_port: int, b_port: int) -> None:
        self.a, self.b = a, b
        self.a_url, self.b_url = f"uwsgi://127.0.0.1:{a_port}", f"uwsgi://127.0.0.1:{b_port}"


def start_host(
    uwsgi_server: ServerFactory, name: str, redis_url: str, port: int, secret: bool
) -> UwsgiServer:
    env = [("env", f"UWSGITASKS_RESULT_STORE={redis_url}")]
    if secret:
        env.append(("env", f"UWSGITASKS_SECRET={SECRET}"))
    return uwsgi_server(
        name,
        options=[("socket", f"127.0.0.1:{port}"), *env],
        env={"UT_INSTANCE": name},
        spooler_frequency=30,
    )


@pytest.fixture(params=[False, True], ids=["unsigned", "secret"])
def hosts(request: pytest.FixtureRequest, uwsgi_server: ServerFactory, redis_url: str) -> Iterator[Hosts]:
    """A and B, without and with a secret; this process configured like them."""
    secret: bool = request.param
    a_port, b_port = free_port(), free_port()
    a = start_host(uwsgi_server, "A", redis_url, a_port, secret)
    b = start_host(uwsgi_server, "B", redis_url, b_port, secret)
    uwsgi_tasks.configure(result_store=redis_url, secret=SECRET if secret else None)
    yield Hosts(a, b, a_port, b_port)
    uwsgi_tasks.configure(result_store=None)
    for server in (a, b):  # captured: pytest shows it when the test failed
        print(f"--- {server.env['UT_INSTANCE']} ---\n{server.log()[-6000:]}")


def send_from_a(
    hosts: Hosts, task: str, *args: Any, target: str | None = None, **extra: Any
) -> dict[str, Any]:
    options = {"spooler": target or hosts.b_url, **extra.pop("options", {})}
    return call(hosts.a, task, *args, module=TASKS, options=options, **extra)


def test_a_spools_to_b_and_its_handle_sees_b_run_it(hosts: Hosts, tmp_path: Path) -> None:
    """A's worker sends to B; B runs it; A's handle goes QUEUED/RUNNING to SUCCEEDED with B's result."""
    answer = send_from_a(hosts, "where", "hello", wait=10)
    assert answer["status"] == "succeeded"
    assert answer["result"]["instance"] == "B" and answer["result"]["name"] == "hello"
    # The same task seen from here, through the store alone: RUNNING while B runs it.
    flag = tmp_path / "release"
    sent = send_from_a(hosts, "wait_for", str(flag))
    handle = TaskHandle.from_id(sent["id"])
    wait_until(lambda: handle.status is TaskStatus.RUNNING, 10)
    flag.touch()
    assert handle.result(timeout=10) == "released"
    assert handle.status is TaskStatus.SUCCEEDED


@pytest.mark.parametrize("via", ["spool", "mule"])
def test_a_spooler_task_or_a_mule_task_on_a_sends_to_b(hosts: Hosts, via: str) -> None:
    """The sender can be a task itself: run by A's spooler or one of A's mules, it sends on to B."""
    answer = call(hosts.a, "relay", hosts.b_url, f"from-{via}", module=TASKS, via=via, wait=15)
    assert answer["status"] == "succeeded"
    assert answer["result"]["instance"] == "B" and answer["result"]["relayed_by"] == "A"
    assert answer["result"]["name"] == f"from-{via}"


def test_retries_on_b_are_seen_from_a(hosts: Hosts, tmp_path: Path) -> None:
    """B retries a failed attempt in its own spooler; A sees RETRYING, then the attempt that succeeded."""
    marker = tmp_path / "first-attempt"
    sent = send_from_a(hosts, "fails_once", str(marker))
    handle = TaskHandle.from_id(sent["id"])
    wait_until(marker.exists, 10)
    wait_until(lambda: handle.status in (TaskStatus.RETRYING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED), 10)
    assert handle.result(timeout=10) == 2
    assert handle.attempt == 2


def test_a_task_arriving_while_b_is_busy_starts_when_b_is_free(hosts: Hosts, tmp_path: Path) -> None:
    """uWSGI doesn't wake a busy spooler for a packet: B wakes itself when its busy spell ends, rather
    than at its next scan (30 s later at this spooler-frequency)."""
    flag = tmp_path / "go"
    busy = remote_tasks.wait_for.options(spooler=hosts.b_url).spool(str(flag))
    wait_until(lambda: busy.status is TaskStatus.RUNNING, 10)
    arrived = remote_tasks.where.options(spooler=hosts.b_url).spool("while busy")
    assert arrived.status is TaskStatus.QUEUED
    flag.touch()
    busy.result(timeout=10)
    assert arrived.result(timeout=10)["instance"] == "B"


def test_a_task_arriving_while_b_only_keeps_files_for_later_starts_too(hosts: Hosts, tmp_path: Path) -> None:
    """A busy spell whose every file is left for uWSGI's next scan wakes no one, unless something
    arrived meanwhile: then B wakes itself for it."""
    flag, marker = tmp_path / "go", tmp_path / "kept-once"
    kept = remote_tasks.wait_then_keep.options(spooler=hosts.b_url).spool(str(flag), str(marker))
    wait_until(lambda: kept.status is TaskStatus.RUNNING, 10)
    arrived = remote_tasks.where.options(spooler=hosts.b_url).spool("while keeping")
    flag.touch()
    assert arrived.result(timeout=10)["instance"] == "B"
    assert marker.exists()


def test_refusals_raise_spool_error_at_the_call(hosts: Hosts) -> None:
    """An unknown spooler directory on B, or B not there: SpoolError at the call, nothing recorded."""
    unknown = send_from_a(hosts, "where", "x", target=f"{hosts.b_url}/no/such/spool")
    assert unknown["error"] == "SpoolError" and "refused it" in unknown["message"]
    nobody = f"uwsgi://127.0.0.1:{free_port()}"
    down = send_from_a(hosts, "where", "x", target=nobody)
    assert down["error"] == "SpoolError" and "Connection refused" in down["message"]
    with pytest.raises(SpoolError, match="refused"):
        remote_tasks.where.options(spooler=f"{hosts.b_url}/no/such/spool").spool("here")


def test_several_remotes_fail_over_and_take_turns(hosts: Hosts) -> None:
    """failover skips an address that is down; round_robin starts from the next address each time."""
    nobody = f"uwsgi://127.0.0.1:{free_port()}"
    failover = Remote([nobody, hosts.b_url])
    assert remote_tasks.where.options(spooler=failover).spool("f").result(timeout=10)["instance"] == "B"
    turns = Remote([hosts.a_url, hosts.b_url], policy="round_robin")
    handles = [remote_tasks.where.options(spooler=turns).spool(f"r{i}") for i in range(4)]
    assert [h.result(timeout=10)["instance"] for h in handles] == ["A", "B", "A", "B"]


def test_a_plain_python_process_enqueues_to_b(hosts: Hosts) -> None:
    """This test process is not uWSGI: it sends to B and its handle sees the result."""
    handle = remote_tasks.where.options(spooler=hosts.b_url).spool("plain")
    assert handle.executor.name == "SPOOLER" and handle.spool_file is None
    assert handle.result(timeout=10)["instance"] == "B"


def test_the_command_line_sends_and_waits(hosts: Hosts, redis_url: str) -> None:
    """python -m uwsgi_tasks send: JSON arguments, the task id, and with --wait the result."""
    env = (
        {**os.environ, "UWSGITASKS_SECRET": SECRET}
        if uwsgi_tasks._config.signing_keys()
        else dict(os.environ)
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "uwsgi_tasks",
            "send",
            hosts.b_url,
            f"{TASKS}:where",
            '"from the shell"',
            "--store",
            redis_url,
            "--wait",
            "10",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    task_id, result = run.stdout.splitlines()
    assert len(task_id) == 32 and json.loads(result)["instance"] == "B"
    assert json.loads(result)["name"] == "from the shell"


def test_large_arguments_travel_by_reference(hosts: Hosts, redis_url: str) -> None:
    """A packet over B's buffer-size goes by reference through the store, signed like any task, and
    the copy in the store is gone once B ran it."""
    import redis

    data = os.urandom(50_000)
    handle = remote_tasks.size_of.options(spooler=hosts.b_url).spool(data)
    assert handle.result(timeout=10) == 50_000
    assert redis.Redis.from_url(redis_url).exists(f"uwsgi_tasks:payload:{handle.id}") == 0


def test_a_packet_over_buffer_size_without_a_store_names_both_sizes(hosts: Hosts) -> None:
    uwsgi_tasks.configure(result_store=None)
    with pytest.raises(
        SpoolError, match=r"its packet is \d+ bytes, over the receiver's buffer-size of 4096 bytes"
    ):
        remote_tasks.size_of.options(spooler=hosts.b_url).spool(b"x" * 5000)


def test_at_is_honoured_on_b(hosts: Hosts) -> None:
    """A scheduled task is SCHEDULED from here, and B starts it on time (not at its next scan,
    30 s later at this spooler-frequency)."""
    at = int(time.time()) + 2
    handle = remote_tasks.where.options(spooler=hosts.b_url, at=at).spool("later")
    assert handle.status is TaskStatus.SCHEDULED
    result = handle.result(timeout=10)
    assert result["instance"] == "B" and result["time"] >= at


def test_a_spool_directory_on_this_host_is_written_directly(hosts: Hosts) -> None:
    """A producer on B's host that is not uWSGI writes into B's spool directory; B's spooler is woken."""
    handle = remote_tasks.where.options(spooler=SpoolDirectory(hosts.b.spool_dirs[0])).spool("local")
    assert handle.spool_file is not None and handle.spool_file.startswith(str(hosts.b.spool_dirs[0]))
    assert handle.result(timeout=10)["instance"] == "B"
    with pytest.raises(SpoolError, match="no spool directory"):
        remote_tasks.where.options(spooler=SpoolDirectory("/no/such/dir")).spool("x")


def raw_packet(message: dict[bytes, bytes]) -> bytes:
    packet = _codec.network_packet(message)
    assert packet is not None
    return packet


def send_raw(url: str, packet: bytes) -> bytes:
    host, port = url.removeprefix("uwsgi://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(packet)
        return conn.recv(4)


@pytest.mark.parametrize("hosts", [True], indirect=True, ids=["secret"])
def test_forged_or_unsigned_packets_are_set_aside_on_b(hosts: Hosts) -> None:
    """With a secret, whoever can reach B's socket without it gets nothing run: an unsigned task and a
    task signed with another key are spooled by uWSGI, then set aside by uwsgi_tasks, never run, and
    no outcome is written for the id they claim."""
    spec = TaskSpec(f"{TASKS}:where", "d" * 32, time.time(), args=("forged",))
    data = _codec.encode_spool(spec).message[b"task"]
    unsigned = {b"uwsgi_tasks": b"1", b"task": data}
    uwsgi_tasks.configure(secret="another-secret-0123456789")
    forged = {**unsigned, b"sig": _signing.sign_spooled(data, None, None, None) or b""}
    uwsgi_tasks.configure(secret=SECRET)
    for message in (unsigned, forged):
        assert send_raw(hosts.b_url, raw_packet(message)) == b"\xff\x00\x00\x01"  # uWSGI spooled it
    aside = hosts.b.spool_dirs[0] / ".uwsgi_tasks" / "set_aside"
    reasons = wait_until(
        lambda: sorted(aside.glob("*.reason.json")) if len(list(aside.glob("*.reason.json"))) == 2 else None,
        10,
    )
    texts = sorted(json.loads(p.read_text())["reason"] for p in reasons)
    assert "refusing an unsigned task" in texts[0] + texts[1]
    assert "does not verify" in texts[0] + texts[1]
    # Nothing read from a packet that did not verify is written as an outcome (its id could be a
    # genuine task's): the id stays unknown, and the set-aside notes don't repeat it.
    assert TaskHandle.from_id("d" * 32).status is TaskStatus.UNKNOWN
    assert all(json.loads(p.read_text())["task_id"] is None for p in reasons)
