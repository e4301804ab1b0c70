"""The public door: a sorted, complete __all__, and every 0.7.3 name still importable."""

from __future__ import annotations

import importlib
import re
import types

import pytest

import uwsgi_tasks

DOORS = [
    "uwsgi_tasks",
    "uwsgi_tasks.contrib.django",
    "uwsgi_tasks.decorators",
    "uwsgi_tasks.tasks",
    "uwsgi_tasks.testing",
    "uwsgi_tasks.testing.strategies",
    "uwsgi_tasks.utils",
]


def _sorted(names: list[str]) -> list[str]:
    return sorted(names, key=lambda name: (name.casefold(), name))


@pytest.mark.parametrize("door", DOORS)
def test_every_public_module_has_a_sorted_all_of_names_that_resolve(door: str) -> None:
    """Each public module's __all__ is sorted case-insensitively (Task before task), and every name
    in it resolves (contrib.django loads its backend lazily, without importing Django)."""
    module = importlib.import_module(door)
    assert module.__all__ == _sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("door", ["uwsgi_tasks", "uwsgi_tasks.testing"])
def test_all_lists_every_public_name(door: str) -> None:
    """The package doors define nothing public beyond __all__ (their submodules aren't names)."""
    module = importlib.import_module(door)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert module.__all__ == _sorted(list(public))


def test_every_0_7_3_name_is_importable_with_its_value() -> None:
    """The names the 0.7.3 README shows import from the package, with 0.7.3's values."""
    from uwsgi_tasks import (  # noqa: F401 -- importability is the test
        SPOOL_IGNORE,
        SPOOL_OK,
        SPOOL_RETRY,
        RetryTaskException,
        TaskExecutor,
        cron,
        cron_lazy,
        django_setup,
        get_current_task,
        set_uwsgi_callbacks,
        task,
        timer,
        timer_lazy,
    )

    assert (SPOOL_OK, SPOOL_RETRY, SPOOL_IGNORE) == (-2, -1, 0)
    assert [e.value for e in TaskExecutor] == [1, 2, 3, 4]
    assert int(TaskExecutor.SPOOLER) == 2
    error = RetryTaskException(count=3, timeout=10)
    assert (error.count, error.timeout) == (3, 10)
    assert isinstance(error, uwsgi_tasks.Retry)
    assert str(error)


def test_compat_modules_keep_the_names_old_code_imports() -> None:
    """uwsgi_tasks.tasks and uwsgi_tasks.utils keep the names 0.7.3 code and old pickles use."""
    tasks = importlib.import_module("uwsgi_tasks.tasks")
    utils = importlib.import_module("uwsgi_tasks.utils")
    for name in tasks.__all__:
        assert hasattr(tasks, name)
    assert tasks.manage_spool_request is importlib.import_module("uwsgi_tasks._run._hooks").spooler
    buffer = utils.ProxyDict({"a": 1}, "buffer")
    assert buffer == {"a": 1} and buffer.key == "buffer"
    assert utils.get_function_path(len) == "builtins.len"


def test_public_classes_say_where_to_import_them_from() -> None:
    """Public classes report the package, so failures record uwsgi_tasks.TaskFailed, not a private path."""
    assert uwsgi_tasks.TaskFailed.__module__ == "uwsgi_tasks"
    assert uwsgi_tasks.RetryPolicy.__module__ == "uwsgi_tasks"


def test_exceptions_subclass_the_matching_builtins() -> None:
    """Misuse and timeouts can be caught as builtins; control flow is not an error."""
    assert issubclass(uwsgi_tasks.EncodeError, TypeError)
    assert issubclass(uwsgi_tasks.DecodeError, ValueError)
    assert issubclass(uwsgi_tasks.ResultTimeout, TimeoutError)
    assert issubclass(uwsgi_tasks.TaskNotFound, LookupError)
    assert issubclass(uwsgi_tasks.ExecutorUnavailable, uwsgi_tasks.ConfigurationError)
    assert not issubclass(uwsgi_tasks.Retry, uwsgi_tasks.UwsgiTasksError)
    assert not issubclass(uwsgi_tasks.Ignore, uwsgi_tasks.UwsgiTasksError)
    for name in ("ConfigurationError", "SerializationError", "SpoolError", "TaskFailed", "TaskCancelled"):
        assert issubclass(getattr(uwsgi_tasks, name), uwsgi_tasks.UwsgiTasksError)


def test_version_comes_from_the_installed_metadata() -> None:
    """__version__ is read from the distribution's metadata."""
    assert uwsgi_tasks.__version__


def test_importing_the_package_imports_no_framework() -> None:
    """uwsgi_tasks (and its Django door) import neither Django nor hypothesis nor pytest."""
    import subprocess
    import sys

    probe = (
        "import sys, uwsgi_tasks, uwsgi_tasks.contrib.django, uwsgi_tasks.testing;"
        "print(sorted(m for m in ('django', 'hypothesis', 'pytest', 'flask') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_is_pinned_in_the_typing_tests() -> None:
    """tests/typing type-checks every name of __all__ (a new name must say what type it has)."""
    from pathlib import Path

    pinned = " ".join(path.read_text() for path in (Path(__file__).parents[1] / "typing").glob("*.py"))
    assert [name for name in uwsgi_tasks.__all__ if not re.search(rf"\b{re.escape(name)}\b", pinned)] == []
