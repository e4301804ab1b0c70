"""A Django task that runs until a file appears: to look at its result while it runs."""

from __future__ import annotations

import time
from pathlib import Path

from django.tasks import task


@task
def wait_for(flag: str) -> str:
    deadline = time.monotonic() + 30
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
