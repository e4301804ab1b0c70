"""The options of a task: what `@task(...)` and `Task.options(...)` accept, validated once."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, TypedDict

import attrs

from ._retry import RetryPolicy
from ._spec import MuleTarget, When, priority_number, unix_time
from ._targets import Remote, SpoolDirectory


class TaskExecutor(enum.IntEnum):
    """Where a task runs. The values are 0.7.3's, so old code comparing with ints keeps working.

    AUTO picks the spooler if this uWSGI instance has one, else a mule, else runs in place.
    Outside uWSGI every executor runs in place.
    """

    AUTO = 1
    SPOOLER = 2
    MULE = 3
    RUNTIME = 4


class _CallerCwd(enum.Enum):
    CALLER_CWD = "the caller's working directory"


#: The default ``working_dir``: the directory the caller is in when it sends the task.
CALLER_CWD: Final = _CallerCwd.CALLER_CWD


class TaskOptionsDict(TypedDict, total=False):
    """Keyword options of `task` and `Task.options`.

    executor: where the task runs (`TaskExecutor`).
    retry: a `RetryPolicy`; without one a task runs once.
    retry_count, retry_timeout: the 0.7.3 retry options (runs in all, delay); exclusive with *retry*.
    spooler_return: hand the function's return value to uWSGI as its return code (0.7.3).
    at: earliest start: unix seconds, a datetime (naive = local time) or a timedelta from now.
    priority: spooler priority, an int >= 0; lower runs first. Needs ``--spooler-ordered``.
    spooler: the spooler directory to use, when the instance has several; or a spooler beyond this
        instance: another uWSGI's (``Remote``, or a ``"uwsgi://host:port[/dir]"`` string), or a spool
        directory written directly (``SpoolDirectory``), which work from any process.
    mule: 0 = any mule, N = mule N, a str = a farm name.
    working_dir: directory to run in; the caller's cwd by default, None to stay where the
        executor is.
    store_result: record the return value for the handle (the status is recorded either way).
    """

    executor: TaskExecutor
    retry: RetryPolicy | None
    retry_count: int | None
    retry_timeout: float | timedelta | None
    spooler_return: bool
    at: When | None
    priority: int | None
    spooler: str | os.PathLike[str] | Remote | SpoolDirectory | None
    mule: MuleTarget
    working_dir: str | os.PathLike[str] | None
    store_result: bool


def _check_at(
    instance: object, attribute: attrs.Attribute[When | str | None], value: When | str | None
) -> None:
    if value is not None:
        unix_time(value)


def _check_mule(instance: object, attribute: attrs.Attribute[Any], value: MuleTarget) -> None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"mule= takes a mule id or a farm name, not {value!r}")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"mule ids start at 1 (0 = any mule), not {value}")
    if isinstance(value, str) and not value:
        raise ValueError("a farm name can't be empty")


def _bool(name: str) -> Callable[[object, attrs.Attribute[bool], bool], None]:
    def check(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"{name}= must be True or False, not {value!r}")

    return check


def _optional_path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


def _working_dir(value: str | os.PathLike[str] | _CallerCwd | None) -> str | _CallerCwd | None:
    return value if isinstance(value, _CallerCwd) else _optional_path(value)


def _spooler(
    value: str | os.PathLike[str] | Remote | SpoolDirectory | None,
) -> str | Remote | SpoolDirectory | None:
    if value is None or isinstance(value, Remote | SpoolDirectory):
        return value
    path = os.fspath(value)
    return Remote.parse(path) if path.startswith("uwsgi://") else path


def _optional_priority(value: int | str | None) -> int | None:
    return None if value is None else priority_number(value)


@attrs.frozen
class TaskOptions:
    """Validated options of one task. Strictly private: users pass keywords (`TaskOptionsDict`)."""

    executor: TaskExecutor = attrs.field(default=TaskExecutor.AUTO, converter=TaskExecutor)
    retry: RetryPolicy | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(RetryPolicy))
    )
    spooler_return: bool = attrs.field(default=False, validator=_bool("spooler_return"))
    at: When | str | None = attrs.field(default=None, validator=_check_at)  # str: 0.7.3's unix seconds
    priority: int | None = attrs.field(default=None, converter=_optional_priority)
    spooler: str | Remote | SpoolDirectory | None = attrs.field(default=None, converter=_spooler)
    mule: MuleTarget = attrs.field(default=0, validator=_check_mule)
    working_dir: str | _CallerCwd | None = attrs.field(default=CALLER_CWD, converter=_working_dir)
    store_result: bool = attrs.field(default=True, validator=_bool("store_result"))

    def merged(self, overrides: TaskOptionsDict) -> TaskOptions:
        """These options with *overrides* applied; unknown names are a TypeError."""
        changes: dict[str, Any] = dict(overrides)
        unknown = changes.keys() - _OPTION_NAMES
        if unknown:
            raise TypeError(
                f"unknown task option(s): {', '.join(sorted(unknown))}; "
                f"the options are {', '.join(sorted(_OPTION_NAMES))}"
            )
        legacy = {name: changes.pop(name) for name in ("retry_count", "retry_timeout") if name in changes}
        if legacy:
            if "retry" in changes:
                raise TypeError("pass either retry= or the 0.7.3 retry_count=/retry_timeout=, not both")
            changes["retry"] = RetryPolicy.from_legacy(legacy.get("retry_count"), legacy.get("retry_timeout"))
        return attrs.evolve(self, **changes)


_OPTION_NAMES: Final = frozenset(TaskOptionsDict.__annotations__)
