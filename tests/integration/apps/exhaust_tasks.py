"""Imported in the master when UT_EXHAUST is set: uses up uWSGI's timers, then its signal numbers."""

from __future__ import annotations

import json
import os

from uwsgi_tasks import ConfigurationError, signal, timer


def _noop(signum: int) -> None:
    pass


found: dict[str, object] = {}
made = 0
try:
    for made in range(100):  # noqa: B007 -- the count is the result
        timer(_noop, seconds=3600)
except ConfigurationError as e:
    found["timers"] = [made, str(e)]
try:
    for made in range(300):  # noqa: B007 -- the count is the result
        signal()(_noop)
except ConfigurationError as e:
    found["signals"] = [made, str(e)]
with open(os.path.join(os.environ["UT_RESULTS"], "exhaust.json"), "w") as f:
    json.dump(found, f)
