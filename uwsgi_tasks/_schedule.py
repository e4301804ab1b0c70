"""What uWSGI's timers and cron take: whole seconds, a count of iterations, cron fields in range.

Checked when a timer or cron task is declared (and by ``add_setup``), not when uWSGI refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

# uWSGI's cron fields in its argument order, with the values each takes: an exact value, -1 for
# every, -N for every N.
CRON_RANGES = {
    "minute": (-59, 59),
    "hour": (-23, 23),
    "day": (-31, 31),
    "month": (-12, 12),
    "dayweek": (-7, 7),
}


def whole_seconds(value: object) -> int:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds != int(seconds):
        raise TypeError(f"uWSGI timers take whole seconds (an int or a timedelta), not {value!r}")
    if seconds < 1:
        raise ValueError(f"a timer needs at least 1 second, not {value!r}")
    return int(seconds)


def iterations(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"iterations is a count >= 1 (or None: forever), not {value!r}")
    return value


def check_cron(fields: Mapping[str, object]) -> None:
    """Raise ValueError unless *fields* has every cron field, each in range."""
    for field, (low, high) in CRON_RANGES.items():
        value = fields[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"cron {field} must be an int from {low} to {high}, not {value!r}")
    for field in ("day", "month"):
        if fields[field] == 0:
            raise ValueError(f"cron {field} starts at 1 (-1 for every, -N for every N)")
