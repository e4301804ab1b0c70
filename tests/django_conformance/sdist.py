"""Django's ``tests/tasks`` for the installed Django: fetched from its source distribution with pip,
kept in a cache directory, and copied with the backend substituted for ImmediateBackend."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

#: Django's own test package for the tasks framework, inside the sdist.
TESTS = "tests/tasks"
IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"
IMMEDIATE_IMPORT = "from django.tasks.backends.immediate import ImmediateBackend\n"


def substitutions(backend_path: str) -> dict[str, list[tuple[str, str, int]]]:
    """What is substituted, file by file: (text, replacement, how many times it must occur).

    Nothing else in Django's tests changes; a Django whose tests differ fails the copy instead of
    passing vacuously. *backend_path* goes where the tests configure ImmediateBackend in TASKS; the
    import makes their ``isinstance(..., ImmediateBackend)`` checks ask for a SpoolerBackend.
    """
    as_immediate = "from uwsgi_tasks.contrib.django import SpoolerBackend as ImmediateBackend\n"
    return {
        "test_immediate_backend.py": [
            (f'"{IMMEDIATE}"', f'"{backend_path}"', 4),
            (IMMEDIATE_IMPORT, as_immediate, 1),
        ],
        "test_tasks.py": [(f'"{IMMEDIATE}"', f'"{backend_path}"', 1), (IMMEDIATE_IMPORT, as_immediate, 1)],
    }


def default_cache() -> Path:
    """Where sdists are kept between runs: $UT_DJANGO_SDIST_CACHE, else the system's temp dir."""
    explicit = os.environ.get("UT_DJANGO_SDIST_CACHE")
    return Path(explicit) if explicit else Path(tempfile.gettempdir()) / "uwsgi_tasks-django-sdist"


def django_tests(cache: Path) -> Path:
    """``tests/tasks`` of the installed Django's sdist, downloaded once into *cache*.

    The directory returned holds the package ``tasks`` (Django's tests import themselves as
    ``tasks.test_...`` and their tasks as ``tasks.tasks``).
    """
    version = django.__version__
    done = cache / f"django-{version}"
    if (done / "tasks" / "test_immediate_backend.py").exists():
        return done
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".django-{version}-", dir=cache))
    try:
        command = [sys.executable, "-m", "pip", "download", f"django=={version}", "--no-binary", ":all:"]
        command += ["--no-deps", "--quiet", "--disable-pip-version-check", "-d", str(work)]
        pip = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        if pip.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited with {pip.returncode}:\n{pip.stdout}{pip.stderr}")
        [archive] = work.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            top = tar.getnames()[0].split("/")[0]
            members = [m for m in tar.getmembers() if m.name.startswith(f"{top}/{TESTS}/")]
            if not members:
                raise FileNotFoundError(f"{archive.name} has no {TESTS}/")
            tar.extractall(work / "x", members=members, filter="data")
        staged = work / "tasks"
        (work / "x" / top / TESTS).rename(staged)
        done.mkdir(exist_ok=True)
        try:
            staged.rename(done / "tasks")  # atomic: whole, or not there
        except OSError:  # another run got there first
            if not (done / "tasks" / "test_immediate_backend.py").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return done


def substituted_copy(source: Path, target: Path, backend_path: str) -> Path:
    """A copy of Django's ``tasks`` test package under *target*, *backend_path* in ImmediateBackend's
    place (see `substitutions`); *target* is what goes on ``sys.path``."""
    shutil.copytree(source / "tasks", target / "tasks", ignore=shutil.ignore_patterns("__pycache__"))
    for name, changes in substitutions(backend_path).items():
        path = target / "tasks" / name
        text = path.read_text()
        for old, new, count in changes:
            found = text.count(old)
            if found != count:
                raise AssertionError(
                    f"{name}: {old!r} occurs {found} times, the substitution expects {count}"
                )
            text = text.replace(old, new)
        path.write_text(text)
    return target
