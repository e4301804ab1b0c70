"""The spooler callable and mule hook: installed once, chained to what was there, tasks found by path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import (
    ServerFactory,
    call,
    kick_spoolers,
    records,
    results_dir,
    wait_records,
)
from tests.integration.test_spooler import _write_spool_file
from uwsgi_tasks import TaskStatus
from uwsgi_tasks._outcomes._files import FileResultStore
from uwsgi_tasks.testing import UwsgiServer, wait_until

pytestmark = pytest.mark.integration


def test_a_failing_spooled_task_is_logged_with_its_id_and_recorded(shared_server: UwsgiServer) -> None:
    """An exception is logged with the task id and recorded FAILED; the file is gone, not retried."""
    handle = call(shared_server, "fail", "spool-fail")
    wait_records(shared_server, "spool-fail")
    store = FileResultStore(str(shared_server.spool_dirs[0]))
    outcome = wait_until(lambda: store.get(handle["id"]), 5)
    assert outcome.status is TaskStatus.FAILED
    assert outcome.error is not None and "spool-fail failed on purpose" in outcome.error.message
    assert (
        f"task {handle['id']} (tests.integration.apps.itasks:fail) failed on attempt 1" in shared_server.log()
    )
    wait_until(lambda: not Path(handle["spool_file"]).exists(), 5)
    kick_spoolers(shared_server)
    assert len(records(shared_server, "spool-fail")) == 1


def test_callbacks_chain_to_the_ones_installed_before(uwsgi_server: ServerFactory) -> None:
    """Installing twice is harmless; foreign spool files and mule messages reach the previous hooks."""
    server = uwsgi_server(env={"UT_FOREIGN_HOOKS": "1"}, spooler_frequency=1)
    assert server.get_json("/callbacks-again") == {"ok": True}
    call(server, "note", "ours", 1)
    call(server, "note", "ours-mule", 2, via="mule", options={"mule": 1})
    wait_records(server, "ours")
    wait_records(server, "ours-mule")
    _write_spool_file(server.spool_dirs[0], {b"ud_spool_func": b"theirs"})
    kick_spoolers(server)
    assert server.get_json("/mule-raw?m=hello")["sent"] is True
    foreign = results_dir(server)

    def written(name: str) -> bool:
        """The hook wrote its whole line (the file exists a moment before the line is in it)."""
        path = foreign / name
        return path.exists() and path.read_text().endswith("\n")

    wait_until(lambda: written("foreign-spooler.jsonl") and written("foreign-mule.jsonl"), 10)
    spooled = json.loads((foreign / "foreign-spooler.jsonl").read_text())
    assert "b'ud_spool_func'" in spooled["keys"]
    assert json.loads((foreign / "foreign-mule.jsonl").read_text()) == {"message": "hello"}
    assert len(records(server, "ours")) == 1
