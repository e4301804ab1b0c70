"""Signal tasks imported by a worker after the fork (on request): they must not pretend to work."""

from __future__ import annotations

from tests.integration.apps.itasks import record
from uwsgi_tasks import timer_lazy


@timer_lazy(seconds=1)
def too_late(signum: int) -> None:
    record("too-late")
