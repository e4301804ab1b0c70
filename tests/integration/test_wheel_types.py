"""The types a user gets: the wheel, built and installed into a fresh venv, type-checks a project of
its own with mypy --strict and pyright (basedpyright, strict). The project imports `uwsgi`, whose
stub ships in the wheel as `uwsgi-stubs`; every misuse line must be reported, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Building the wheel and a venv takes longer than the suite's per-test timeout allows a fixture.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# What the checkers see of the fresh venv: nothing of this checkout (PYTHONPATH would leak it in).
CLEAN = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "MYPYPATH")}
# pyright strict, and failing on a `type: ignore` it doesn't need (mypy's warn_unused_ignores).
STRICT = json.dumps({"typeCheckingMode": "strict", "reportUnnecessaryTypeIgnoreComment": "error"})

# Each misuse sits on its own line with a `type: ignore[code]`: mypy (warn_unused_ignores) and pyright
# (reportUnnecessaryTypeIgnoreComment) both fail if one of them is not an error.
USER_PROJECT = """
from __future__ import annotations

from collections.abc import Sequence

import uwsgi
from typing_extensions import assert_type

from uwsgi_tasks import RetryPolicy, TaskHandle, task


@task
def add(a: int, b: int) -> int:
    return a + b


assert_type(add.spool(1, 2), TaskHandle[int])
assert_type(add.run(1, 2), int)
# The shipped stub, not typeshed's types-uWSGI (whose spool() returns an optional str):
assert_type(uwsgi.spool({b"task": b"x"}), bytes)
assert_type(uwsgi.spooler_pid(), int)
uwsgi.cache_get("key")  # a name the stub doesn't model: Incomplete, not an error


def results(handles: Sequence[TaskHandle[object]]) -> list[object]:
    return [h.result() for h in handles]


results([add.spool(1, 2)])  # handles are covariant

add.spool("1", 2)  # type: ignore[arg-type]
add.spool(1)  # type: ignore[call-arg]
add.options(at="tomorrow")  # type: ignore[arg-type]
RetryPolicy(jitter="sometimes")  # type: ignore[arg-type]
RetryPolicy(backoff="fast")  # type: ignore[arg-type]
uwsgi.spool({"task": "x"})  # type: ignore[dict-item]
uwsgi.cache_gett("key")  # type: ignore[attr-defined]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout, and nothing else but its dependencies."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(ROOT)],
        check=True,
        timeout=300,
        env=CLEAN,
    )
    (wheel,) = (base / "dist").glob("uwsgi_tasks-*.whl")
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=300, env=CLEAN)
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "user.py").write_text(USER_PROJECT)
    (tmp_path / "pyrightconfig.json").write_text(STRICT)
    return tmp_path


def test_the_wheel_ships_the_uwsgi_stub(installed: Path) -> None:
    site = subprocess.run(
        [
            installed,
            "-c",
            "import uwsgi_tasks, pathlib; print(pathlib.Path(uwsgi_tasks.__file__).parents[1])",
        ],
        cwd=installed.parent,  # not this checkout, which would be imported from the working directory
        env=CLEAN,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (Path(site) / "uwsgi-stubs" / "__init__.pyi").read_text() == (
        ROOT / "stubs" / "uwsgi.pyi"
    ).read_text()
    assert (Path(site) / "uwsgi_tasks" / "py.typed").exists()


MYPY = ["-m", "mypy", "--strict", "--warn-unused-ignores", "--no-incremental", "--config-file", ""]


def test_mypy_strict_sees_every_misuse_and_nothing_else(installed: Path, project: Path) -> None:
    checked = subprocess.run(
        [sys.executable, *MYPY, "--python-executable", str(installed), "user.py"],
        cwd=project,
        env=CLEAN,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def pyright(installed: Path, where: Path, *arguments: str) -> Any:
    """basedpyright's JSON report of *arguments*, run in *where* against the venv of *installed*."""
    environment = {**CLEAN, "VIRTUAL_ENV": str(installed.parents[1])}
    environment["PATH"] = f"{installed.parent}{os.pathsep}{environment.get('PATH', '')}"
    checked = subprocess.run(
        [sys.executable, "-m", "basedpyright", "--outputjson", "--pythonpath", str(installed), *arguments],
        cwd=where,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(checked.stdout)


def test_pyright_strict_sees_every_misuse_and_nothing_else(installed: Path, project: Path) -> None:
    """(Its one warning is expected: the `uwsgi` module exists only inside uWSGI, so pyright finds the
    stub and no source for it.)"""
    found = pyright(installed, project, "user.py")["generalDiagnostics"]
    expected = [("warning", "reportMissingModuleSource")]
    assert [(d["severity"], d.get("rule")) for d in found] == expected, found


def test_the_pinned_public_types_hold_in_pyright_too(installed: Path, tmp_path: Path) -> None:
    """tests/typing (mypy --strict checks it in the mypy session) under basedpyright strict, against
    the installed wheel: the same types, and every misuse line an error there too."""
    (tmp_path / "pyrightconfig.json").write_text(STRICT)
    files = sorted(str(path) for path in (ROOT / "tests" / "typing").glob("*.py"))
    assert pyright(installed, tmp_path, *files)["generalDiagnostics"] == []


def test_the_public_interface_is_typed_for_pyright(installed: Path, tmp_path: Path) -> None:
    """pyright --verifytypes: at least 95 % of the symbols the package exports have a declared type
    (what is left is Django's base class, unknown where Django is not installed). It runs here, on
    the installed wheel, because pyright can't verify an editable install."""
    report = pyright(installed, tmp_path, "--ignoreexternal", "--verifytypes", "uwsgi_tasks")[
        "typeCompleteness"
    ]
    assert Path(report["pyTypedPath"]).is_relative_to(installed.parents[1])  # the wheel, not this checkout
    assert report["completenessScore"] >= 0.95, report
    unknown = {s["name"] for s in report["symbols"] if s["isExported"] and not s["isTypeKnown"]}
    assert unknown <= {"uwsgi_tasks.contrib.django.SpoolerBackend"}, unknown
