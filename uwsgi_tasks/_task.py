"""@task and Task[P, R]: a decorated function that can be spooled, sent to a mule or run in place."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from typing_extensions import ParamSpec, Unpack

from . import _dispatch, _registry
from ._options import TaskExecutor, TaskOptions, TaskOptionsDict

if TYPE_CHECKING:
    from ._context import CurrentTask
    from ._handle import TaskHandle

P = ParamSpec("P")
R = TypeVar("R")


class Task(Generic[P, R]):
    """A function decorated with `task`.

    Calling it sends it with its executor (0.7.3's behaviour) and returns a `TaskHandle`; `spool`,
    `mule` and `run` choose the executor explicitly. The undecorated function is `fn`.
    """

    def __init__(self, fn: Callable[P, R], config: TaskOptions) -> None:
        self.fn = fn
        self.config = config
        self.path = f"{fn.__module__}:{fn.__qualname__}"
        # Per requested executor, how the task is sent (see _dispatch.Route).
        self._routes: dict[TaskExecutor, Any] = {}
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    # 0.7.3 names
    @property
    def function(self) -> Callable[P, R]:
        return self.fn

    @property
    def executor(self) -> TaskExecutor:
        return self.config.executor

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task with its configured executor (AUTO unless the decorator said otherwise)."""
        return _dispatch.send(self, self.config.executor, args, kwargs)

    def spool(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task to the spooler (in place outside uWSGI)."""
        return _dispatch.send(self, TaskExecutor.SPOOLER, args, kwargs)

    def mule(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task to a mule (in place outside uWSGI)."""
        return _dispatch.send(self, TaskExecutor.MULE, args, kwargs)

    def run(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the task here and now, after sending its arguments through the codec.

        Raises what the function raises. Retries, if the task has a policy, run at once.
        """
        return _dispatch.run_here(self, args, kwargs)

    def options(self, **options: Unpack[TaskOptionsDict]) -> Task[P, R]:
        """A copy of this task with some options changed, e.g. ``task.options(at=delay).spool(x)``."""
        return Task(self.fn, self.config.merged(options))

    def _send_again(
        self, current: CurrentTask, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> TaskHandle[R]:
        """`CurrentTask.__call__`: send this task again, with the running task's buffer and changes."""
        overrides = current._overrides()
        again = self.options(**overrides) if overrides else self
        return _dispatch.send(again, again.config.executor, args, kwargs, buffer=current.buffer)

    def __repr__(self) -> str:
        return f"<Task {self.path} executor={self.config.executor.name}>"


class TaskDecorator(Protocol):
    """What ``task(...)`` returns when called with options."""

    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


def _make(fn: object, config: TaskOptions) -> Task[Any, Any]:
    if isinstance(fn, staticmethod | classmethod):
        raise TypeError("@task decorates module-level functions, not staticmethod or classmethod objects")
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(f"@task decorates a function, not {fn!r}")
    if inspect.iscoroutinefunction(fn):
        raise TypeError("@task can't run async functions; decorate a plain function")
    if not (hasattr(fn, "__module__") and hasattr(fn, "__qualname__")):
        raise TypeError(f"@task needs a function with __module__ and __qualname__, not {fn!r}")
    made: Task[Any, Any] = Task(fn, config)
    _registry.register(made)
    return made


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(
    executor: TaskExecutor = TaskExecutor.AUTO, /, **options: Unpack[TaskOptionsDict]
) -> TaskDecorator: ...
def task(fn: object = None, /, **options: Any) -> Any:
    """Make a function a task: ``@task``, ``@task()`` or ``@task(executor, **options)``.

    The executor may be given by position or as ``executor=``; the options are keywords (see
    `TaskOptionsDict`). An unknown option is a TypeError, raised at decoration.
    """
    if isinstance(fn, TaskExecutor):
        if "executor" in options:
            raise TypeError("task() got the executor twice, by position and as executor=")
        options["executor"] = fn
        fn = None
    config = TaskOptions().merged(options)  # type: ignore[arg-type] # checked at run time by merged()
    if fn is None:
        return lambda f: _make(f, config)
    return _make(fn, config)
