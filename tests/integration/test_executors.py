"""Choosing the executor on real uWSGI instances: AUTO's order, and no silent fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import ServerFactory, call, wait_records

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("config", "executor", "role"),
    [
        ({"spoolers": 1, "mules": 2}, "SPOOLER", "spooler"),
        ({"spoolers": 0, "mules": 2}, "MULE", "mule"),
        ({"spoolers": 0, "mules": 0}, "RUNTIME", "worker"),
    ],
)
def test_auto_prefers_the_spooler_then_a_mule_then_in_place(
    uwsgi_server: ServerFactory, config: dict[str, int], executor: str, role: str
) -> None:
    """AUTO uses the spooler if there is one, else a mule, else runs in the worker (the README's order)."""
    server = uwsgi_server(**config)
    handle = call(server, "note", "auto", via="__call__")
    assert handle["executor"] == executor
    (record,) = wait_records(server, "auto")
    assert record["role"].startswith(role)


def test_explicit_executors_that_are_missing_raise(uwsgi_server: ServerFactory) -> None:
    """A missing explicit SPOOLER or MULE raises ExecutorUnavailable (0.7.3 fell back silently)."""
    mules_only = uwsgi_server("mules-only", spoolers=0, mules=1, farms={})
    answer = call(mules_only, "note", "x", via="spool")
    assert answer["error"] == "ExecutorUnavailable"
    assert "--spooler" in answer["message"]
    at_without_spooler = call(mules_only, "note", "x", via="__call__", options={"at_in": 5})
    assert at_without_spooler["error"] == "ExecutorUnavailable"
    spooler_only = uwsgi_server("spooler-only", mules=0)
    assert call(spooler_only, "mule_note", "x", via="__call__")["error"] == "ExecutorUnavailable"


def test_priority_without_an_ordered_spooler_is_refused(uwsgi_server: ServerFactory) -> None:
    """priority= on an instance without --spooler-ordered raises (0.7.3 lost such tasks forever)."""
    server = uwsgi_server(spooler_ordered=False, mules=0)
    answer = call(server, "note", "x", options={"priority": 1})
    assert answer["error"] == "ConfigurationError"
    assert "--spooler-ordered" in answer["message"]


def test_spooler_picks_a_directory_and_an_unknown_one_is_refused(uwsgi_server: ServerFactory) -> None:
    """spooler= selects one of several spooler directories; an unknown directory is an error."""
    server = uwsgi_server(spoolers=2, mules=0)
    second = server.spool_dirs[1]
    handle = call(server, "note", "second", options={"spooler": str(second)})
    assert Path(handle["spool_file"]).parent == second
    assert wait_records(server, "second")[0]["role"] == "spooler"
    answer = call(server, "note", "x", options={"spooler": "/no/such/dir"})
    assert answer["error"] == "ConfigurationError"
    assert "is not a spooler of this instance" in answer["message"]


def test_an_external_spooler_counts_as_a_spooler(uwsgi_server: ServerFactory, tmp_path: Path) -> None:
    """With only --spooler-external, AUTO and SPOOLER write into that directory for another instance."""
    external = tmp_path / "external"
    external.mkdir()
    server = uwsgi_server(spoolers=0, mules=0, options=[("spooler-external", str(external))])
    handle = call(server, "note", "ext", via="__call__")
    assert handle["executor"] == "SPOOLER"
    assert Path(handle["spool_file"]).parent == external
    assert handle["status"] == "queued"
