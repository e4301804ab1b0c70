"""`InPlace`: every task runs in place while it is active, and a failure raises at the call."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from .._handle import TaskHandle
from .._send import _route


class InPlace:
    """Run every task sent while active in place, through the real codec, retries without delay::

        with InPlace() as tasks:
            signup("ada@example.com")  # a failing task raises its exception here
        assert [h.function for h in tasks.handles] == ["myapp.tasks:send_welcome"]

    *raise_failures*: a task that fails for good raises at the call (the function's own exception,
    or `TaskFailed` when its retries ran out) instead of returning a FAILED handle.
    Tasks sent from any thread are run in place; `handles` lists them in the order they were sent.
    """

    def __init__(self, *, raise_failures: bool = True) -> None:
        self.raise_failures = raise_failures
        self.handles: list[TaskHandle[Any]] = []
        self._previous: _route.InPlaceMode | None = None

    def sent(self, handle: TaskHandle[Any]) -> None:
        self.handles.append(handle)

    def __enter__(self) -> InPlace:
        self._previous, _route.forced = _route.forced, self
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        _route.forced = self._previous
