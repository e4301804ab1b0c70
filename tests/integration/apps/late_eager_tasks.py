"""An eager timer imported by a worker after the fork: refused at import."""

from __future__ import annotations

from tests.integration.apps.itasks import record
from uwsgi_tasks import timer


@timer(seconds=1)
def eager_too_late(signum: int) -> None:
    record("eager-too-late")
