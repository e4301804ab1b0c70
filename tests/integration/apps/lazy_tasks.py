"""A task module the app does not import at start: the spooler first meets it in a spool file."""

from __future__ import annotations

from tests.integration.apps.itasks import record
from uwsgi_tasks import task


@task
def lazy_note(name: str) -> str:
    record(name)
    return name
