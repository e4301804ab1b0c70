"""Timers, red-black timers and cron on uWSGI signals: not built yet (issue 6).

The names exist so that 0.7.3 code imports; using them raises NotImplementedError until then.
"""

from __future__ import annotations

from typing import Any, NoReturn

_NOT_YET = "not implemented yet: Timers, red-black timers, cron and signal tasks (issue 6)"


def timer(*args: Any, **kwargs: Any) -> NoReturn:
    """Run a function every *seconds* on a uWSGI timer (not implemented yet)."""
    raise NotImplementedError(_NOT_YET)


def timer_lazy(*args: Any, **kwargs: Any) -> NoReturn:
    """A timer started by calling it (not implemented yet)."""
    raise NotImplementedError(_NOT_YET)


def cron(*args: Any, **kwargs: Any) -> NoReturn:
    """Run a function on a uWSGI cron schedule (not implemented yet)."""
    raise NotImplementedError(_NOT_YET)


def cron_lazy(*args: Any, **kwargs: Any) -> NoReturn:
    """A cron entry started by calling it (not implemented yet)."""
    raise NotImplementedError(_NOT_YET)
