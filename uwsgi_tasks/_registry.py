"""Finding the task a message names: ``module:qualname`` -> the `Task` object, never anything else.

Only functions decorated with `@task` can be run from a message: a spool file naming ``os:system``
resolves to nothing, because ``os.system`` is not a Task. And a message imports nothing unless it was
signed with the secret, or names a module the application declared (``configure(task_modules=...)``):
without a secret, whoever can write a spool file could otherwise run any module's top-level code.

Imports also never come from a spool directory: uWSGI's ``sys.path`` starts with ``''`` and ``'.'``,
and a spooler's working directory is its spool directory (`pin_import_path`).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

from . import _config, _uwsgi
from ._exceptions import TaskNotFound

logger = logging.getLogger("uwsgi_tasks")


class Registered(Protocol):
    """What the registry knows of a task: the name a message gives, and the function to run. (Only
    `Task` objects are registered; the protocol keeps this module below the one that defines them.)"""

    @property
    def path(self) -> str: ...

    @property
    def fn(self) -> Callable[..., Any]: ...


_tasks: dict[str, Registered] = {}


def register(task: Registered) -> None:
    _tasks[task.path] = task


def declared(module: str) -> bool:
    """Whether *module* is, or is inside, a module listed in ``configure(task_modules=...)``."""
    return any(module == name or module.startswith(f"{name}.") for name in _config.task_modules())


def may_import(module: str) -> bool:
    """Whether the task being decoded or run may import *module*: outside uWSGI (nothing there runs
    tasks from messages), for tasks that verified against the secret (with a secret, no other task is
    accepted at all), and for declared modules."""
    return not _uwsgi.RUNNING or bool(_config.signing_keys()) or declared(module)


def resolve(path: str) -> Registered:
    """The task registered under *path*, importing its module first if that is allowed (`may_import`).

    `TaskNotFound` otherwise, and whatever importing the module raised (SystemExit included) becomes
    one too: a hostile or broken module never ends the process that looked for a task.
    """
    found = _tasks.get(path)
    if found is not None:
        return found
    module, _, qualname = path.partition(":")
    if not (_config.MODULE_NAME.fullmatch(module) and qualname):
        raise TaskNotFound(f"{path[:200]!r} is not a task: a task is named module:qualname")
    if module not in sys.modules and not may_import(module):
        raise TaskNotFound(
            f"{path!r} is not a registered task, and its module may not be imported for an unsigned "
            "task: without a secret, a task must be imported by the application before uWSGI forks, "
            "or be in a module listed in configure(task_modules=[...])"
        )
    import_module(module, f"the module of task {path!r}")
    found = _tasks.get(path)
    if found is None:
        raise TaskNotFound(
            f"{path!r} is not a task: importing {module!r} defined no @task named {qualname!r}"
        )
    return found


def import_module(module: str, what: str) -> None:
    """Import *module* (a name `may_import` allowed); `TaskNotFound` naming *what* if that fails,
    whatever the import raised. Tasks its failed import registered are forgotten again."""
    before = set(_tasks)
    pin_import_path()
    try:
        importlib.import_module(module)
    except BaseException as e:  # SystemExit/KeyboardInterrupt at import included
        for path in set(_tasks) - before:
            del _tasks[path]
        raise TaskNotFound(f"can't import {what}: {e!r}") from None


def pin_import_path() -> None:
    """Make ``sys.path`` say where imports come from without depending on the working directory.

    uWSGI starts it with ``''`` and ``'.'``: the application's directory when the app is loaded, but
    a spooler's is its spool directory, where anyone who can write a spool file can also write a
    module. Relative entries become the directory they mean now, unless that is a spool directory (a
    process that first imports us there, e.g. with lazy-apps): then they are dropped.
    """
    if not any(not entry or not os.path.isabs(entry) for entry in sys.path):
        return
    here = os.getcwd()
    spools = _uwsgi.spooler_dirs()
    in_a_spool_dir = any(here == d or here.startswith(f"{d}/") for d in spools)
    pinned: list[str] = []
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            if in_a_spool_dir:
                continue
            entry = os.path.normpath(os.path.join(here, entry))
        if entry not in pinned:
            pinned.append(entry)
    sys.path[:] = pinned
