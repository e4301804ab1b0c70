"""Finding the task a message names: ``module:qualname`` -> the `Task` object, never anything else.

Only functions decorated with `@task` can be run from a message: a spool file naming ``os:system``
resolves to nothing, because ``os.system`` is not a Task.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import TaskNotFound

if TYPE_CHECKING:
    from ._task import Task

_tasks: dict[str, Task[Any, Any]] = {}


def register(task: Task[Any, Any]) -> None:
    _tasks[task.path] = task


def resolve(path: str) -> Task[Any, Any]:
    """The task registered under *path*, importing its module first if needed."""
    found = _tasks.get(path)
    if found is not None:
        return found
    module, _, qualname = path.partition(":")
    try:
        importlib.import_module(module)
    except Exception as e:
        raise TaskNotFound(f"can't import the module of task {path!r}: {e!r}") from e
    found = _tasks.get(path)
    if found is None:
        raise TaskNotFound(
            f"{path!r} is not a task: importing {module!r} defined no @task named {qualname!r}"
        )
    return found
