"""Targets beyond this instance, as values: parsing, turns, the packets, the reference form."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import uwsgi_tasks
from tests.strategies import json_values, specs
from uwsgi_tasks import DecodeError, Remote, SpoolDirectory, _codec, task
from uwsgi_tasks._options import TaskOptions
from uwsgi_tasks._spec import TaskSpec

hosts = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True) | st.ip_addresses(v=4).map(str)
ports = st.integers(1, 65535)
paths = st.none() | st.from_regex(r"(/[A-Za-z0-9_.-]{1,12}){1,4}", fullmatch=True)


@given(hosts, ports, paths)
def test_parse_reads_what_a_url_says(host: str, port: int, path: str | None) -> None:
    remote = Remote.parse(f"uwsgi://{host}:{port}{path or ''}")
    assert remote.addresses == (f"uwsgi://{host}:{port}",)
    assert remote.spooler == path
    assert remote.policy == "failover" and remote.buffer_size == 4096


@given(st.text(max_size=40))
def test_parse_refuses_what_is_not_a_uwsgi_url(text: str) -> None:
    if text.startswith("uwsgi://") and ":" in text[8:]:
        return  # may be one
    with pytest.raises(ValueError, match="uwsgi://host:port"):
        Remote.parse(text)


def test_addresses_and_policy_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Remote([])
    with pytest.raises(ValueError, match="uwsgi://host:port"):
        Remote("uwsgi://h:1/with/a/path")
    with pytest.raises(ValueError, match="policy"):
        Remote("uwsgi://h:1", policy="random")  # type: ignore[arg-type] # the mistake checked


def test_round_robin_starts_from_the_next_address_each_time() -> None:
    turns = Remote(["uwsgi://a:1", "uwsgi://b:1", "uwsgi://c:1"], policy="round_robin")
    orders = [turns._order() for _ in range(4)]
    assert [order[0] for order in orders] == ["uwsgi://a:1", "uwsgi://b:1", "uwsgi://c:1", "uwsgi://a:1"]
    assert all(sorted(order) == sorted(turns.addresses) for order in orders)
    assert Remote(["uwsgi://a:1", "uwsgi://b:1"])._order() == ("uwsgi://a:1", "uwsgi://b:1")


def test_the_spooler_option_takes_targets() -> None:
    """A uwsgi:// string is a Remote; a path stays a local spooler directory; targets pass as they are."""
    assert TaskOptions(spooler="uwsgi://h:3031/var/spool/x").spooler == Remote(
        "uwsgi://h:3031", "/var/spool/x"
    )
    assert TaskOptions(spooler="/var/spool/x").spooler == "/var/spool/x"
    assert TaskOptions(spooler=SpoolDirectory("/d")).spooler == SpoolDirectory("/d")


@given(specs(json_values))
def test_network_packets_carry_the_spool_message(spec: TaskSpec) -> None:
    """A packet is the spool file's bytes (modifier1 17): parsing it gives the message back, and the
    spooler decodes the same task; a message that needs a body has no packet."""
    message = _codec.encode_spool(spec).message
    packet = _codec.network_packet(message)
    if b"body" in message:
        assert packet is None
        return
    assert packet is not None and packet[0] == 17
    assert _codec.parse_spool_file(packet) == message


@given(specs(json_values), st.booleans())
def test_a_task_by_reference_decodes_from_the_store(spec: TaskSpec, signed: bool) -> None:
    """By reference: the packet names the task; the spooler fetches the JSON, checks the signature and
    that it is the named task."""
    if signed:
        uwsgi_tasks.configure(secret="reference-secret-0123456789")
    try:
        encoded = _codec.encode_spool(spec)
        if b"task" not in encoded.message:
            return
        stored = {spec.task_id: encoded.message[b"task"]}
        small = _codec.by_reference(encoded.message, spec.task_id)
        assert b"task" not in small and small[b"ref"] == spec.task_id.encode()
        assert _codec.decode_spool(small, stored.get) == _codec.decode_spool(encoded.message)
    finally:
        uwsgi_tasks.configure(secret=None)


def test_a_reference_that_cannot_be_followed_is_a_decode_error(secret: str) -> None:
    spec = TaskSpec("m:f", "a" * 32, time.time())
    other = TaskSpec("m:f", "b" * 32, time.time())
    message = _codec.encode_spool(spec).message
    small = _codec.by_reference(message, spec.task_id)
    with pytest.raises(DecodeError, match="no shared result store"):
        _codec.decode_spool(small)
    with pytest.raises(DecodeError, match="payload is gone"):
        _codec.decode_spool(small, lambda ref: None)
    swapped = _codec.by_reference(_codec.encode_spool(other).message, spec.task_id)
    with pytest.raises(DecodeError, match="is task"):
        _codec.decode_spool(swapped, lambda ref: _codec.encode_spool(other).message[b"task"])
    uwsgi_tasks.configure(secret="another-secret-0123456789")
    with pytest.raises(DecodeError, match="does not verify"):
        _codec.decode_spool(small, lambda ref: message[b"task"])


def test_result_store_configuration() -> None:
    with pytest.raises(ValueError, match="Redis URL"):
        uwsgi_tasks.configure(result_store="/var/lib/results")
    assert uwsgi_tasks._outcomes._where.shared() is None


def test_in_place_mode_keeps_remote_tasks_here() -> None:
    """Tests' in-place mode runs even a Remote task here (nothing is sent)."""
    from uwsgi_tasks.testing import InPlace

    @task(spooler="uwsgi://127.0.0.1:1")
    def far(x: int) -> int:
        return x * 2

    with InPlace():
        assert far.spool(21).result() == 42


class _FakeSpooler:
    """A socket on 127.0.0.1 that answers every packet with *answers* in turn: b"\\x01" spooled,
    b"\\x00" refused, None closes without answering (after reading the packet)."""

    def __init__(self, *answers: bytes | None) -> None:
        import socket
        import threading

        self.answers = list(answers)
        self.packets: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"uwsgi://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.server.accept()
            with conn:
                self.packets.append(conn.recv(65536))
                answer = self.answers.pop(0)
                if answer is not None:
                    conn.sendall(b"\xff\x00\x00" + answer)

    def close(self) -> None:
        self.server.close()


@task(spooler="uwsgi://127.0.0.1:1")
def sent_far(x: int) -> int:
    return x


def test_failover_skips_a_refusal_but_not_a_missing_answer() -> None:
    """A refusal (status 0) or an address that can't be reached goes on to the next address; a packet
    that went out without an answer may have been spooled: no other address gets it (it could run
    twice), and the error says so."""
    from uwsgi_tasks import SpoolError

    refuses, takes = _FakeSpooler(b"\x00"), _FakeSpooler(b"\x01")
    try:
        sent_far.options(spooler=Remote([refuses.url, "uwsgi://127.0.0.1:1", takes.url])).spool(1)
        assert len(refuses.packets) == 1 and len(takes.packets) == 1
        assert takes.packets[0][0] == 17  # a spool packet
    finally:
        refuses.close()
        takes.close()
    silent, spare = _FakeSpooler(None), _FakeSpooler(b"\x01")
    try:
        with pytest.raises(SpoolError, match="may or may not have been spooled"):
            sent_far.options(spooler=Remote([silent.url, spare.url])).spool(2)
        assert spare.packets == []
    finally:
        silent.close()
        spare.close()


def test_spool_directories_are_absolute_and_ports_in_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative SpoolDirectory is made absolute where it is named (retries run elsewhere)."""
    monkeypatch.chdir(tmp_path)
    assert SpoolDirectory("spool").path == str(tmp_path / "spool")
    with pytest.raises(ValueError, match="uwsgi://host:port"):
        Remote("uwsgi://h:70000")


def test_a_reference_must_name_a_task_id() -> None:
    with pytest.raises(DecodeError, match="names no task id"):
        _codec.decode_spool({b"uwsgi_tasks": b"1", b"ref": b"../../etc"}, lambda ref: b"{}")
    assert _codec.spec_tree({b"uwsgi_tasks": b"1", b"ref": b"a" * 32}) == {"task_id": "a" * 32}
