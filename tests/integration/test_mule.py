"""The mule executor on a real uWSGI: any mule, mule N, a farm; errors at the call; failures survived."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import ServerFactory, call, records, wait_records
from uwsgi_tasks import TaskStatus
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration


def test_any_mule_runs_a_mule_task(shared_server: UwsgiServer) -> None:
    """A MULE task sent with mule=0 (the default) is run by one of the mules."""
    handle = call(shared_server, "mule_note", "any-mule", via="__call__")
    assert handle["executor"] == "MULE"
    assert handle["spool_file"] is None
    (record,) = wait_records(shared_server, "any-mule")
    assert record["role"] in ("mule1", "mule2")


@pytest.mark.parametrize("mule", [1, 2])
def test_mule_n_runs_it(shared_server: UwsgiServer, mule: int) -> None:
    """mule=N sends the task to mule N."""
    call(shared_server, "note", f"mule-{mule}", via="mule", options={"mule": mule})
    (record,) = wait_records(shared_server, f"mule-{mule}")
    assert record["role"] == f"mule{mule}"


def test_working_dir_in_a_mule(shared_server: UwsgiServer, tmp_path: Path) -> None:
    """A mule task runs in the caller's cwd by default, in working_dir if given (a relative one from
    where the mule started), and where the mule started with None: wherever the task before it went."""
    worker_cwd = shared_server.get_json("/info")["cwd"]  # where the master, its workers and mules start
    mule = {"mule": 1}  # one mule: its messages run in order
    call(shared_server, "wander", "mule-wander", str(tmp_path), via="mule", options=mule)
    call(shared_server, "where", "mule-cwd-none", via="mule", options={**mule, "working_dir": None})
    call(shared_server, "wander", "mule-wander-2", str(tmp_path), via="mule", options=mule)
    call(shared_server, "where", "mule-cwd-default", via="mule", options=mule)
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    call(
        shared_server,
        "where",
        "mule-cwd-explicit",
        via="mule",
        options={**mule, "working_dir": str(explicit)},
    )
    (Path(worker_cwd) / "relative").mkdir(exist_ok=True)
    for _ in range(2):
        call(
            shared_server,
            "where",
            "mule-cwd-relative",
            via="mule",
            options={**mule, "working_dir": "relative"},
        )
    assert [r["cwd"] for r in wait_records(shared_server, "mule-cwd-relative", 2)] == [
        str(Path(worker_cwd) / "relative")
    ] * 2
    assert wait_records(shared_server, "mule-cwd-none")[0]["cwd"] == worker_cwd
    assert wait_records(shared_server, "mule-cwd-default")[0]["cwd"] == worker_cwd
    assert wait_records(shared_server, "mule-cwd-explicit")[0]["cwd"] == str(explicit)
    assert wait_records(shared_server, "mule-wander")[0]["cwd"] == str(tmp_path)


def test_a_farm_runs_it(uwsgi_server: ServerFactory) -> None:
    """A farm name (a str) sends the task to a mule of that farm, and only of that farm."""
    server = uwsgi_server(mules=2, farms={"second": (2,)})
    for i in range(4):
        handle = call(server, "note", "farmed", i, via="mule", options={"mule": "second"})
        assert "error" not in handle, handle
    assert {record["role"] for record in wait_records(server, "farmed", 4)} == {"mule2"}


@pytest.mark.parametrize(("mule", "match"), [(3, "has 2 mule"), ("nofarm", "unknown farm")])
def test_unknown_mules_and_farms_fail_at_the_call(
    shared_server: UwsgiServer, mule: object, match: str
) -> None:
    """A mule id out of range or an unknown farm is a ConfigurationError at the call."""
    handle = call(shared_server, "note", "nowhere", via="mule", options={"mule": mule})
    assert handle["error"] == "ConfigurationError"
    assert match in handle["message"]


def test_an_oversized_mule_payload_fails_at_the_call_and_nothing_is_sent(shared_server: UwsgiServer) -> None:
    """A message a mule would receive truncated raises EncodeError at the call."""
    handle = call(shared_server, "checksum", "too-big", via="mule", payload=70_000)
    assert handle["error"] == "EncodeError"
    assert "over the 65536 bytes a mule receives whole" in handle["message"]
    call(shared_server, "note", "after-too-big", via="mule", options={"mule": 1})
    wait_records(shared_server, "after-too-big")
    assert records(shared_server, "too-big") == []


def test_a_full_mule_queue_fails_the_call_with_spool_error(
    shared_server: UwsgiServer, tmp_path: Path
) -> None:
    """When uWSGI can't queue a mule message (the mule is busy and its buffer full), the call raises."""
    flag = tmp_path / "unblock"
    call(shared_server, "block", "mule-busy", str(flag), via="mule", options={"mule": 1})
    wait_records(shared_server, "mule-busy")
    answers = []
    for _ in range(20):
        answers.append(
            call(shared_server, "checksum", "queued", via="mule", options={"mule": 1}, payload=45_000)
        )
        if "error" in answers[-1]:
            break
    flag.touch()
    assert answers[-1]["error"] == "SpoolError", answers[-1]
    assert "did not take task" in answers[-1]["message"]
    wait_records(shared_server, "queued", count=len(answers) - 1)


def test_a_failing_mule_task_is_logged_recorded_and_the_mule_keeps_serving(
    shared_server: UwsgiServer,
) -> None:
    """An exception in a mule task is logged with its id and recorded; the same mule runs the next task."""
    failed = call(shared_server, "fail", "mule-fail", via="mule", options={"mule": 1})
    call(shared_server, "note", "mule-after", via="mule", options={"mule": 1})
    (fail_record,) = wait_records(shared_server, "mule-fail")
    (after,) = wait_records(shared_server, "mule-after")
    assert after["pid"] == fail_record["pid"]
    assert f"task {failed['id']} (tests.integration.apps.itasks:fail) failed" in shared_server.log()
    store = FileResultStore(str(shared_server.spool_dirs[0]))
    outcome = wait_until(lambda: store.get(failed["id"]), 5)
    assert outcome.status is TaskStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.type_path == "builtins.ValueError"
