"""The package's shape: imports run one way, one module imports uwsgi, modules stay small, and the
result-side errors share a base."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import uwsgi_tasks
from uwsgi_tasks import (
    ConfigurationError,
    ResultError,
    ResultTimeout,
    ResultUnavailable,
    TaskCancelled,
    TaskFailed,
)

PACKAGE = Path(uwsgi_tasks.__file__).parent
# The one circle allowed, for types only: a running task (CurrentTask) knows its Task, and a Task runs
# tasks in place through the pipeline that makes a CurrentTask.
TYPING_ONLY = {("uwsgi_tasks._context", "uwsgi_tasks._task")}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every package module *module* imports, anywhere in it (deferred and TYPE_CHECKING included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {name for name in found if name in modules and name != module}


def test_imports_make_no_circles() -> None:
    """Imports among the package's modules form no cycle (deferred and typing-only imports count),
    but for the one typing-only pair that can't be avoided cleanly."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    for low, high in TYPING_ONLY:
        graph[low].discard(high)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the circle


# From the public doors down (docs/architecture.md draws the same picture); a module imports only from its
# own layer or below. The Outcome model is data, used by the codec, so it sits with the leaves.
LAYERS = [
    "uwsgi_tasks uwsgi_tasks.__main__ uwsgi_tasks.typing uwsgi_tasks._cli uwsgi_tasks._inspect "
    "uwsgi_tasks.contrib* uwsgi_tasks.testing* uwsgi_tasks.tasks uwsgi_tasks.utils uwsgi_tasks.decorators",
    "uwsgi_tasks._task uwsgi_tasks._periodic uwsgi_tasks._signals uwsgi_tasks._schedule",
    "uwsgi_tasks._run*",
    "uwsgi_tasks._send*",
    "uwsgi_tasks._handle uwsgi_tasks._context uwsgi_tasks._registry uwsgi_tasks._wake",
    "uwsgi_tasks._outcomes*",
    "uwsgi_tasks._codec* uwsgi_tasks._spooldir uwsgi_tasks._spoolfiles",
    "uwsgi_tasks._outcomes._model uwsgi_tasks._retry uwsgi_tasks._spec uwsgi_tasks._options "
    "uwsgi_tasks._targets uwsgi_tasks._config uwsgi_tasks._uwsgi uwsgi_tasks._exceptions uwsgi_tasks._locks",
]


def _layer(module: str) -> int:
    """The layer of *module*: an exact name wins over a prefix (``_outcomes._model`` is a leaf)."""
    exact = [n for n, layer in enumerate(LAYERS) if module in layer.split()]
    if exact:
        return exact[0]
    return next(
        n
        for n, layer in enumerate(LAYERS)
        for pattern in layer.split()
        if pattern.endswith("*") and (module + ".").startswith(pattern[:-1])
    )


def test_imports_run_down_through_the_layers() -> None:
    """No module imports from a layer above its own, but for the one typing-only pair."""
    modules = _modules()
    upward = [
        f"{name} -> {imported}"
        for name, path in modules.items()
        for imported in _imports(name, path, modules)
        if _layer(imported) < _layer(name) and (name, imported) not in TYPING_ONLY
    ]
    assert upward == []


def test_the_allowed_pair_is_typing_only() -> None:
    """`_context` imports `_task` only under ``if TYPE_CHECKING:``: at run time it would be a circle."""
    for low, high in TYPING_ONLY:
        tree = ast.parse(_modules()[low].read_text())
        guarded = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for statement in block.body
            for node in ast.walk(statement)
        }
        imports = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and high.rpartition(".")[2] in (node.module or "")
        ]
        assert imports and all(id(node) in guarded for node in imports)


@pytest.mark.parametrize("package", ["uwsgi_tasks._outcomes", "uwsgi_tasks._run", "uwsgi_tasks._send"])
def test_the_side_packages_import_nothing(package: str) -> None:
    """Their modules are imported by name: the codec imports `_outcomes._model` while the stores
    import the codec, so an ``__init__`` importing its modules would make a circle at run time."""
    tree = ast.parse(_modules()[package].read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def test_only_the_facade_imports_uwsgi() -> None:
    importers = {
        name
        for name, path in _modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Import) and any(alias.name == "uwsgi" for alias in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module == "uwsgi" and not node.level)
    }
    assert importers == {"uwsgi_tasks._uwsgi"}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_stay_small(name: str) -> None:
    assert len(_modules()[name].read_text().splitlines()) <= 400


def test_the_result_side_errors_share_a_base() -> None:
    for error in (TaskFailed, TaskCancelled, ResultTimeout, ResultUnavailable):
        assert issubclass(error, ResultError)
    assert issubclass(ResultUnavailable, ConfigurationError)  # what 0.x raised for it, still caught
    assert issubclass(ResultTimeout, TimeoutError)


def test_a_handle_tells_its_outcome() -> None:
    from uwsgi_tasks import TaskStatus, task

    @task
    def double(n: int) -> int:
        return 2 * n

    handle = double.spool(21)  # in place, outside uWSGI: done at once
    outcome = handle.outcome
    assert outcome is not None
    assert (outcome.status, outcome.value, outcome.attempts, outcome.task_id) == (
        TaskStatus.SUCCEEDED,
        42,
        1,
        handle.id,
    )


def test_the_typing_aids_have_their_own_module() -> None:
    from uwsgi_tasks import TaskDecorator, TaskOptionsDict, typing

    assert (typing.TaskDecorator, typing.TaskOptionsDict) == (TaskDecorator, TaskOptionsDict)
    assert sorted(typing.__all__) == ["JitterName", "MuleTarget", "TaskDecorator", "TaskOptionsDict", "When"]
