"""@task and Task[P, R]: a decorated function that can be spooled, sent to a mule or run in place."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar, cast, overload

import attrs
from typing_extensions import ParamSpec, Unpack

from . import _registry
from ._handle import TaskHandle
from ._options import TaskExecutor, TaskOptions, TaskOptionsDict
from ._periodic import _Handler
from ._run._in_place import run_here, run_sent
from ._send import _again, _route
from ._spec import TaskSpec
from ._targets import Remote, SpoolDirectory

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class _Bound(functools.partial[Any]):
    """A `Task` method bound to one task (``send_email.spool``): called as the method is, and telling
    `inspect` the function's parameters, which a bound method of a ParamSpec method can't (it shows
    ``*args: P.args``, so IPython and Jedi in interpreter mode would show no parameters)."""

    @property
    def __signature__(self) -> inspect.Signature:
        signature = inspect.signature(self.args[0].fn)
        wrapper: str | None = self.__dict__["returns"]
        return signature if wrapper is None else _sending(signature, wrapper)


class _PerTask:
    """The descriptor of a `Task` method that binds once per task, to a `_Bound` kept in the task's
    ``__dict__`` (so later lookups find it there, as fast as a bound method)."""

    def __init__(self, method: Callable[..., Any], returns: str | None) -> None:
        self.method = method
        self.returns = returns
        self.name = method.__name__

    def __get__(self, task: object, owner: type | None = None) -> Any:
        if task is None:
            return self.method  # on the class: the plain function (help(Task), documentation tools)
        bound = _Bound(self.method, task)
        bound.__dict__.update(returns=self.returns, __name__=self.name, __doc__=self.method.__doc__)
        vars(task)[self.name] = bound
        return bound


def _per_task(returns: str | None) -> Callable[[F], F]:
    """Make a `Task` method bind per task (see `_Bound`); *returns* wraps the function's return type
    in what the method gives (``"TaskHandle"``), None: the function's own. Checkers see the method."""

    def per_task(method: F) -> F:
        return cast(F, _PerTask(method, returns))  # what a checker needs is the method's own type

    return per_task


class Task(Generic[P, R]):
    """A function decorated with `task`.

    Calling it sends it with its executor (0.7.3's behaviour) and returns a `TaskHandle`; `spool`,
    `mule` and `run` choose the executor explicitly. The undecorated function is `fn`.
    """

    # The function's, set by functools.update_wrapper.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, R]

    def __init__(self, fn: Callable[P, R], config: TaskOptions) -> None:
        self.fn: Callable[P, R] = fn
        self.config: TaskOptions = config
        self.path: str = f"{fn.__module__}:{fn.__qualname__}"
        # Per requested executor, how the task is sent (made at the first send).
        self._routes: dict[TaskExecutor, _route.Route] = {}
        # Introspects as the function: its name, qualname, module (so inspect.getmodule and doctest
        # find it where it is defined), doc and signature (through __wrapped__).
        functools.update_wrapper(self, fn, updated=())  # not the function's __dict__: it could hide ours

    def __get__(self, instance: object, owner: type | None = None) -> Task[P, R]:
        """Itself, wherever it is looked up, as any object that isn't a descriptor would be. Being one
        makes help() and IPython document the task like a function, with its signature."""
        return self

    # 0.7.3 names
    @property
    def function(self) -> Callable[P, R]:
        return self.fn

    @property
    def executor(self) -> TaskExecutor:
        return self.config.executor

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task with its configured executor (AUTO unless the decorator said otherwise)."""
        return self._send(self.config.executor, args, kwargs)

    @_per_task("TaskHandle")
    def spool(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task to the spooler (in place outside uWSGI)."""
        return self._send(TaskExecutor.SPOOLER, args, kwargs)

    @_per_task("TaskHandle")
    def mule(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle[R]:
        """Send the task to a mule (in place outside uWSGI)."""
        return self._send(TaskExecutor.MULE, args, kwargs)

    @_per_task(None)
    def run(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the task here and now, after sending its arguments through the codec.

        Raises what the function raises. Retries, if the task has a policy, run at once.
        """
        return cast(R, run_here(_route.new_spec(self.path, self.config, args, kwargs)))

    def options(self, **options: Unpack[TaskOptionsDict]) -> Task[P, R]:
        """A copy of this task with some options changed, e.g. ``task.options(at=delay).spool(x)``."""
        return Task(self.fn, self.config.merged(options))

    @property
    def __signature__(self) -> inspect.Signature:
        """Calling the task: the function's parameters, giving a handle (`inspect` stops here; the
        function itself is `__wrapped__`)."""
        return _sending(inspect.signature(self.fn), "TaskHandle")

    def _send(
        self,
        requested: TaskExecutor,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        buffer: Mapping[Any, Any] | None = None,
    ) -> TaskHandle[R]:
        """Send the task with *requested*: along its route (made once), or in place."""
        route = self._routes.get(requested) if _route.forced is None and not buffer else None
        if route is None:
            executor = _route.choose(requested, self.path, self.config)
            if executor is TaskExecutor.RUNTIME:
                return run_sent(_route.new_spec(self.path, self.config, args, kwargs, buffer), requested)
            if buffer:  # sent again by a running task, with its buffer: rare enough for the general path
                return self._send_with(
                    executor, _route.new_spec(self.path, self.config, args, kwargs, buffer)
                )
            route = self._routes[requested] = _route.Route.make(self.path, self.config, executor)
        return route.send(self.config, args, kwargs)

    def _send_with(self, executor: TaskExecutor, spec: TaskSpec) -> TaskHandle[R]:
        beyond = self.config.spooler
        if executor is TaskExecutor.MULE:
            return _again.send_spec(attrs.evolve(spec, mule=self.config.mule))
        return _again.send_spec(spec, beyond if isinstance(beyond, Remote | SpoolDirectory) else None)

    def __repr__(self) -> str:
        return f"<Task {self.path} executor={self.config.executor.name}>"


def _sending(signature: inspect.Signature, wrapper: str) -> inspect.Signature:
    """*signature* with its return type wrapped in *wrapper*: ``-> int`` becomes ``-> TaskHandle[int]``."""
    returns = signature.return_annotation
    if returns is inspect.Signature.empty:
        text = "Any"
    else:
        text = returns if isinstance(returns, str) else inspect.formatannotation(returns)
    return signature.replace(return_annotation=f"{wrapper}[{text}]")


class TaskDecorator(Protocol):
    """What ``task(...)`` returns when called with options."""

    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


def _make(fn: object, config: TaskOptions) -> Task[Any, Any]:
    if isinstance(fn, staticmethod | classmethod):
        raise TypeError("@task decorates module-level functions, not staticmethod or classmethod objects")
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(f"@task decorates a function, not {fn!r}")
    if isinstance(fn, Task | _Handler):  # it would take the function's name, and send itself for ever
        raise TypeError(f"@task decorates a function, not another task or signal handler: {fn!r}")
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
