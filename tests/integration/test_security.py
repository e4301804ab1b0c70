"""Security on a real uWSGI: signed pickles, forged payloads never run, 0.7.3 pickles only when trusted."""

from __future__ import annotations

import base64
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

import uwsgi_tasks
from tests.integration.conftest import ServerFactory, call, kick_spoolers, records, wait_records
from tests.integration.test_spooler import _write_spool_file
from uwsgi_tasks import TaskStatus, _codec
from uwsgi_tasks._codec import _signing
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks._spec import TaskSpec
from uwsgi_tasks.testing import UwsgiServer, wait_until
from uwsgi_tasks.utils import ProxyDict

pytestmark = pytest.mark.integration

SECRET = "integration-secret-0123456789"


class Trap:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def forged_spool_message(marker: Path, signature: bytes) -> dict[bytes, bytes]:
    """Our format, the task itself validly signed (someone who knows the secret), but carrying a
    pickle that is unsigned or signed with the wrong key: only the pickle check stands in the way."""
    blob = base64.b64encode(signature + pickle.dumps(Trap(marker))).decode()
    spec = TaskSpec("tests.integration.apps.itasks:note", "f" * 32, time.time(), args=("forged",))
    uwsgi_tasks.configure(secret=SECRET)
    try:
        tree = json.loads(_codec.encode_spool(spec).message[b"task"])
        tree["args"][0] = {"$pickle": blob}
        data = json.dumps(tree).encode()
        task_signature = _signing.sign_spooled(data, None, None, None)
    finally:
        uwsgi_tasks.configure(secret=None)
    assert task_signature is not None
    return {b"uwsgi_tasks": b"1", b"task": data, b"sig": task_signature}


def test_tasks_altered_or_unsigned_are_refused_with_a_secret(signed: UwsgiServer) -> None:
    """With a secret configured, a task someone wrote without it is set aside, never run."""
    spec = TaskSpec("tests.integration.apps.itasks:note", "e" * 32, time.time(), args=("unsigned",))
    path = _write_spool_file(signed.spool_dirs[0], _codec.encode_spool(spec).message)
    kick_spoolers(signed)
    aside = signed.spool_dirs[0] / ".uwsgi_tasks" / "set_aside" / path.name
    wait_until(aside.exists, 10)
    assert "refusing an unsigned task" in json.loads(Path(f"{aside}.reason.json").read_text())["reason"]
    assert records(signed, "unsigned") == []


def legacy_spool_message(name: str) -> dict[bytes, bytes]:
    """A spool dict as uwsgi_tasks 0.7.3 wrote it: unsigned pickles of args, kwargs and setup."""
    return {
        b"function_name": b"tests.integration.apps.itasks.note",
        b"args": pickle.dumps((name, "0.7.3")),
        b"kwargs": pickle.dumps({}),
        b"setup": pickle.dumps({"working_dir": None, "buffer": ProxyDict({"seen": 1}, "buffer")}),
    }


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, uwsgi_binary: str) -> Any:
    """A server whose processes get the secret from the ini (uWSGI's strict mode refuses the raw
    UWSGITASKS_SECRET variable, which it reads as an unknown option)."""
    from tests.integration.conftest import _factory

    for start in _factory(tmp_path_factory.mktemp("signed"), uwsgi_binary):
        yield start(options=[("env", f"UWSGITASKS_SECRET={SECRET}")])


def test_values_without_json_travel_as_signed_pickles(signed: UwsgiServer) -> None:
    """With the secret set, a value JSON can't carry is pickled, signed, and runs in spooler and mule."""
    for via in ("spool", "mule"):
        # A complex number has no JSON form: the worker pickles and signs it.
        answer = call(signed, "echo_complex", f"signed-{via}", via=via, complex=[1, 2])
        assert answer["pickled"] == ["args[1]"], answer
        (found,) = wait_records(signed, f"signed-{via}")
        assert found["value"] == "(1+2j)"


@pytest.mark.parametrize("signature", [b"", b"\x01" + b"\x00" * 32], ids=["unsigned", "forged"])
def test_forged_or_unsigned_pickles_are_never_loaded(
    signed: UwsgiServer, tmp_path: Path, signature: bytes
) -> None:
    """A spool file carrying a pickle we did not sign is set aside with a FAILED outcome; it never loads."""
    marker = tmp_path / "unpickled"
    path = _write_spool_file(signed.spool_dirs[0], forged_spool_message(marker, signature))
    kick_spoolers(signed)
    aside = signed.spool_dirs[0] / ".uwsgi_tasks" / "set_aside" / path.name
    wait_until(aside.exists, 10)
    reason = json.loads(Path(f"{aside}.reason.json").read_text())["reason"]
    assert "not a signed" in reason or "does not verify" in reason
    outcome = FileResultStore(str(signed.spool_dirs[0])).get("f" * 32)
    assert outcome is not None and outcome.status is TaskStatus.FAILED
    assert not marker.exists()
    assert records(signed, "forged") == []


def test_0_7_3_files_are_set_aside_unless_trusted(uwsgi_server: ServerFactory) -> None:
    """Without trust_legacy_pickles a 0.7.3 file is set aside with how to opt in; with it, it runs."""
    untrusted = uwsgi_server("untrusted", mules=1, farms={})
    path = _write_spool_file(untrusted.spool_dirs[0], legacy_spool_message("legacy-untrusted"))
    kick_spoolers(untrusted)
    aside = untrusted.spool_dirs[0] / ".uwsgi_tasks" / "set_aside" / path.name
    wait_until(aside.exists, 10)
    assert "trust_legacy_pickles=True" in json.loads(Path(f"{aside}.reason.json").read_text())["reason"]
    assert untrusted.get_json("/mule-legacy?name=legacy-mule-untrusted")["sent"] is True
    wait_until(lambda: "0.7.3 as an unsigned pickle" in untrusted.log(), 10)
    assert records(untrusted, "legacy-untrusted") == records(untrusted, "legacy-mule-untrusted") == []

    trusted = uwsgi_server("trusted", mules=1, farms={}, env={"UT_TRUST_LEGACY": "1"})
    _write_spool_file(trusted.spool_dirs[0], legacy_spool_message("legacy-trusted"))
    kick_spoolers(trusted)
    (ran,) = wait_records(trusted, "legacy-trusted")
    assert ran["role"] == "spooler" and ran["value"] == "0.7.3"
    assert trusted.get_json("/mule-legacy?name=legacy-mule-trusted")["sent"] is True
    (ran_in_mule,) = wait_records(trusted, "legacy-mule-trusted")
    assert ran_in_mule["role"] == "mule1"


def test_a_spool_dir_writable_by_others_is_warned_about(uwsgi_server: ServerFactory, tmp_path: Path) -> None:
    """At start-up the master warns when another user could write spool files."""
    spool = tmp_path / "loose" / "spool0"
    spool.mkdir(parents=True)
    os.chmod(spool, 0o777)  # noqa: S103 -- the permissive mode is what is being tested
    server = uwsgi_server("loose", mules=0)
    assert f"spool directory {spool} is writable by other users (mode 777)" in server.log()
