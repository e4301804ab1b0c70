"""@signal, @timer, @rbtimer and @cron (eager and lazy): functions run on uWSGI signals.

Each decorator returns an object, never None (0.7.3's @timer and @cron returned None): ``run(signum)``
calls the function directly (for tests), ``start()`` (or calling a lazy one, as in 0.7.3) starts a
timer or cron entry, ``send()`` raises a plain signal. The function receives the signal number.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar, overload

from typing_extensions import Required, Unpack

from . import _schedule, _signals, _uwsgi
from ._exceptions import ConfigurationError
from ._options import TaskExecutor

logger = logging.getLogger("uwsgi_tasks")

R = TypeVar("R")


class _Handler(Generic[R]):
    """A function run when a uWSGI signal is raised, by the process(es) *target* names.

    Registered in the master at import (the only place where every process gets the handler);
    elsewhere it is inert: `run` still calls the function.
    """

    kind: ClassVar[str] = "signal handler"
    # The function's, set by functools.update_wrapper.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[[int], R]

    def __init__(
        self,
        fn: Callable[[int], R],
        *,
        target: str | None = None,
        signal: int | None = None,
        executor: TaskExecutor = TaskExecutor.AUTO,
        eager: bool = True,
    ) -> None:
        given: object = fn  # checked at run time, whatever the annotations say
        if not callable(given) or isinstance(given, type):
            raise TypeError(f"a {self.kind} decorates a function, not {fn!r}")
        self.fn = fn
        self.name: str = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
        # Introspects as the function: name, module, doc, __wrapped__ (inspect, doctest, help).
        functools.update_wrapper(self, fn, updated=())  # type: ignore[arg-type] # subclasses are the callables
        self.target: str = (
            _signals.default_target(executor) if target is None else _signals.check_target(target)
        )
        self.signum: int | None = None if signal is None else _signals.check_number(signal)
        self.registered: bool = False
        if _signals.can_register():
            self.signum = _signals.register(self.name, self.signum, self.target, self._handle)
            self.registered = True
        elif eager and _signals.in_worker_after_fork():
            raise ConfigurationError(self._not_registered("was imported in a worker after the fork"))

    def _not_registered(self, why: str) -> str:
        return (
            f"{self.name}: this {self.kind} {why}, so uWSGI would run it only in this worker, if at "
            "all. Declare it in a module the master imports before forking (the app's module without "
            "lazy-apps, or --shared-import with lazy-apps)."
        )

    def _handle(self, signum: int) -> None:
        try:
            self.fn(signum)
        except BaseException:  # SystemExit or KeyboardInterrupt too: the process serves on
            logger.exception("%s %s failed on signal %d", self.kind, self.name, signum)

    def run(self, signum: int | None = None) -> R:
        """Call the function here and now, with *signum* (default: its signal number, or 0)."""
        return self.fn(signum if signum is not None else self.signum or 0)

    def _require_registered(self) -> int:
        if self.signum is None or not self.registered:
            raise ConfigurationError(self._not_registered("was not registered in the master"))
        return self.signum

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} signal={self.signum} target={self.target!r}>"


class SignalTask(_Handler[R]):
    """A plain signal handler, raised with `send`; calling it runs the function directly."""

    def send(self) -> None:
        """Raise the signal: uWSGI runs the handler in the target process(es). In place outside uWSGI."""
        if not _uwsgi.RUNNING:
            self.run()
            return
        _uwsgi.raise_signal(self._require_registered())

    @property
    def __signature__(self) -> inspect.Signature:
        """Calling it runs the function here, and gives what the function returns."""
        returns = inspect.signature(self.fn).return_annotation
        return inspect.signature(self.__call__).replace(return_annotation=returns)

    def __call__(self, signum: int | None = None) -> R:
        return self.run(signum)


class _Started(_Handler[R]):
    """A timer or cron entry: the handler is registered at import, the entry added by `start`."""

    _settable: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, fn: Callable[[int], R], *, lazy: bool, **options: Any) -> None:
        self.started: bool = False
        super().__init__(fn, eager=not lazy, **options)
        if not lazy and self.registered:
            self.start()

    def _add(self, signum: int) -> None:
        raise NotImplementedError

    def start(self) -> bool:
        """Add the timer or cron entry; False if it already runs (started by any process).

        Outside uWSGI it is inert (logged). Where the handler could not be registered, it raises
        ConfigurationError instead of adding an entry nobody would run.
        """
        if not _uwsgi.RUNNING:
            logger.info("%s %s: not started, uWSGI is not running", self.kind, self.name)
            return False
        signum = self._require_registered()
        if not _signals.mark_started(signum):
            return False
        try:
            self._add(signum)
        except ValueError as e:
            _signals.unmark_started(signum)
            raise ConfigurationError(
                f"{self.name}: uWSGI refused the {self.kind} ({e}); it allows at most "
                f"{_signals.TABLE_LIMIT} timers, {_signals.TABLE_LIMIT} red-black timers and "
                f"{_signals.TABLE_LIMIT} cron entries"
            ) from e
        self.started = True
        return True

    @property
    def __signature__(self) -> inspect.Signature:
        """How this object is called: it starts the timer (`inspect` stops here; the function is
        `__wrapped__`)."""
        return inspect.signature(self.__call__)

    def __call__(self) -> bool:
        """Start it (0.7.3's way of starting a lazy timer or cron)."""
        return self.start()

    def add_setup(self, **settings: Any) -> None:
        """Change settings before it starts, e.g. ``add_setup(seconds=10, iterations=2)``."""
        unknown = settings.keys() - self._settable
        if unknown:
            raise TypeError(
                f"add_setup() takes {', '.join(sorted(self._settable))}, not {', '.join(sorted(unknown))}"
            )
        if self.started:
            raise ConfigurationError(f"{self.name}: already started; add_setup() comes before start()")
        for key, value in settings.items():
            setattr(self, key, value)
        self._validate()

    def _validate(self) -> None:
        raise NotImplementedError


class TimerTask(_Started[R]):
    """A function run every *seconds* on a uWSGI timer; a red-black timer stops after *iterations*."""

    kind = "timer"
    _settable = frozenset({"seconds", "iterations"})

    def __init__(
        self,
        fn: Callable[[int], R],
        *,
        seconds: int | timedelta,
        iterations: int | None = None,
        red_black: bool = False,
        lazy: bool = False,
        **options: Any,
    ) -> None:
        self.seconds: int | timedelta = seconds
        self.iterations: int | None = iterations
        self.red_black: bool = red_black or iterations is not None
        self._validate()
        super().__init__(fn, lazy=lazy, **options)

    def _validate(self) -> None:
        self.seconds = _schedule.whole_seconds(self.seconds)
        self.iterations = _schedule.iterations(self.iterations)
        self.red_black = self.red_black or self.iterations is not None

    def _add(self, signum: int) -> None:
        assert isinstance(self.seconds, int)
        iterations = (self.iterations or 0) if self.red_black else None
        _uwsgi.add_timer(signum, self.seconds, iterations)


class CronTask(_Started[R]):
    """A function run by uWSGI's cron: each field is an exact value, -1 for every, -N for every N."""

    kind = "cron entry"
    _settable = frozenset(_schedule.CRON_RANGES)

    def __init__(
        self,
        fn: Callable[[int], R],
        *,
        minute: int = -1,
        hour: int = -1,
        day: int = -1,
        month: int = -1,
        dayweek: int = -1,
        lazy: bool = False,
        **options: Any,
    ) -> None:
        self.minute: int = minute
        self.hour: int = hour
        self.day: int = day
        self.month: int = month
        self.dayweek: int = dayweek
        self._validate()
        super().__init__(fn, lazy=lazy, **options)

    def _validate(self) -> None:
        _schedule.check_cron(vars(self))

    def _add(self, signum: int) -> None:
        _uwsgi.add_cron(signum, self.minute, self.hour, self.day, self.month, self.dayweek)


class SignalDecorator(Protocol):
    def __call__(self, fn: Callable[[int], R], /) -> SignalTask[R]: ...


class TimerDecorator(Protocol):
    def __call__(self, fn: Callable[[int], R], /) -> TimerTask[R]: ...


class CronDecorator(Protocol):
    def __call__(self, fn: Callable[[int], R], /) -> CronTask[R]: ...


class TimerSettings(TypedDict, total=False):
    """The keywords of `timer`, `timer_lazy`, `rbtimer` and `rbtimer_lazy`."""

    seconds: Required[int | timedelta]
    iterations: int | None
    target: str | None
    signal: int | None
    executor: TaskExecutor


class CronSettings(TypedDict, total=False):
    """The keywords of `cron` and `cron_lazy`."""

    minute: int
    hour: int
    day: int
    month: int
    dayweek: int
    target: str | None
    signal: int | None
    executor: TaskExecutor


class TimerDecoratorFactory(Protocol):
    """`timer`, `timer_lazy`, `rbtimer`, `rbtimer_lazy`: ``timer(seconds=5)`` is a decorator, and
    ``timer(fn, seconds=5)`` decorates *fn* at once."""

    @overload
    def __call__(self, fn: Callable[[int], R], /, **settings: Unpack[TimerSettings]) -> TimerTask[R]: ...
    @overload
    def __call__(self, fn: None = None, /, **settings: Unpack[TimerSettings]) -> TimerDecorator: ...


class CronDecoratorFactory(Protocol):
    """`cron`, `cron_lazy`: ``cron(minute=0)`` is a decorator, and ``cron(fn, minute=0)`` decorates *fn*
    at once."""

    @overload
    def __call__(self, fn: Callable[[int], R], /, **settings: Unpack[CronSettings]) -> CronTask[R]: ...
    @overload
    def __call__(self, fn: None = None, /, **settings: Unpack[CronSettings]) -> CronDecorator: ...


def signal(num: int | None = None, *, target: str | None = None) -> SignalDecorator:
    """A handler for uWSGI signal *num* (default: a free number), raised with ``.send()``."""

    def make(fn: Callable[[int], R]) -> SignalTask[R]:
        return SignalTask(fn, signal=num, target=target)

    return make


def _timer(fn: Callable[[int], Any] | None, lazy: bool, red_black: bool, options: dict[str, Any]) -> Any:
    def make(f: Callable[[int], Any]) -> TimerTask[Any]:
        return TimerTask(f, lazy=lazy, red_black=red_black, **options)

    return make if fn is None else make(fn)


def _cron(fn: Callable[[int], Any] | None, lazy: bool, options: dict[str, Any]) -> Any:
    fields = {k: options[k] for k in _schedule.CRON_RANGES if k in options}
    if "minute" not in fields and fields:
        logger.warning(
            "cron(%s): minute is -1, so it runs every minute while the other fields match "
            "(0.7.3's @cron(hour=-1) ran every minute); give minute=0 to run once an hour",
            ", ".join(f"{k}={v}" for k, v in fields.items()),
        )

    def make(f: Callable[[int], Any]) -> CronTask[Any]:
        return CronTask(f, lazy=lazy, **options)

    return make if fn is None else make(fn)


_DOCS = {
    "timer": "Run the function every *seconds*, starting at import; with *iterations*, that many times.",
    "timer_lazy": "Like `timer`, started by calling it (or ``start()``), e.g. from a view.",
    "rbtimer": "A red-black timer: every *seconds*, *iterations* times (None: forever), starting at import.",
    "rbtimer_lazy": "Like `rbtimer`, started by calling it (or ``start()``).",
    "cron": "Run the function on uWSGI's cron (checked about every second, at most once a minute).",
    "cron_lazy": "Like `cron`, started by calling it (or ``start()``).",
}


def _decorator(name: str, body: Callable[..., Any], **flags: bool) -> Callable[..., Any]:
    """The module-level decorator *name*: ``name(fn, **settings)`` or ``@name(**settings)``.

    Made here rather than written out six times, so that each kind's overloads are declared once, in
    the type its names are annotated with (`TimerDecoratorFactory`, `CronDecoratorFactory`). It takes
    the name and docstring a def would have: help(), pickling and argument errors name ``timer``.
    """

    def decorate(fn: Callable[[int], Any] | None = None, /, **options: Any) -> Any:
        return body(fn, options=options, **flags)

    decorate.__name__ = decorate.__qualname__ = name
    decorate.__doc__ = _DOCS[name]
    return decorate


timer: TimerDecoratorFactory = _decorator("timer", _timer, lazy=False, red_black=False)
timer_lazy: TimerDecoratorFactory = _decorator("timer_lazy", _timer, lazy=True, red_black=False)
rbtimer: TimerDecoratorFactory = _decorator("rbtimer", _timer, lazy=False, red_black=True)
rbtimer_lazy: TimerDecoratorFactory = _decorator("rbtimer_lazy", _timer, lazy=True, red_black=True)
cron: CronDecoratorFactory = _decorator("cron", _cron, lazy=False)
cron_lazy: CronDecoratorFactory = _decorator("cron_lazy", _cron, lazy=True)
