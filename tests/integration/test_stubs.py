"""stubs/uwsgi.pyi declares only what the real embedded `uwsgi` module has, with the kinds, values and
types it has there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from uwsgi_tasks.testing import UwsgiServer

STUB = Path(__file__).resolve().parents[2] / "stubs" / "uwsgi.pyi"

pytestmark = pytest.mark.integration


def declared_names() -> set[str]:
    names: set[str] = set()
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {name for name in names if not name.startswith("_")}


def test_every_name_the_stub_declares_exists_in_a_real_uwsgi(shared_server: UwsgiServer) -> None:
    """Inside a real uWSGI (spooler and mules configured), every declared name is on the module."""
    real = set(shared_server.get_json("/info")["names"])
    declared = declared_names()
    assert len(declared) > 30
    assert declared - real == set()


def test_stubtest_finds_the_stub_true_inside_a_real_uwsgi(tmp_path: Path, uwsgi_binary: str) -> None:
    """mypy's stubtest, run in a uWSGI worker (with a spooler and mules, so that every name exists):
    what names check can't see, such as a wrong Final value or a function declared as a variable.
    Names the stub leaves to its ``__getattr__`` are not reported (--ignore-missing-stub)."""
    app = Path(__file__).parent / "apps" / "stubtest_app.py"
    server = UwsgiServer(tmp_path, wsgi_file=app, env={"MYPYPATH": str(STUB.parent)}, binary=uwsgi_binary)
    with server:
        report = server.get_json("/", timeout=120)
    assert report["code"] == 0, report["output"]
