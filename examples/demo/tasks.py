"""The demo's tasks: an email "sent" to an outbox directory, a thumbnail, and a report that fails."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from uwsgi_tasks import RetryPolicy, task

OUTBOX = Path(os.environ.get("DEMO_OUTBOX", "outbox"))


@task
def send_email(to: str, subject: str) -> str:
    """Write the email into the outbox; return its file name."""
    OUTBOX.mkdir(parents=True, exist_ok=True)
    path = OUTBOX / f"{time.time():.6f}-{to}.json"
    path.write_text(json.dumps({"to": to, "subject": subject, "pid": os.getpid()}))
    return path.name


@task
def thumbnail(name: str, size: int) -> dict[str, object]:
    """Pretend to resize an image, in a mule."""
    return {"name": name, "size": size, "pid": os.getpid()}


@task(retry=RetryPolicy(max_attempts=2, retry_on=(ConnectionError,)))
def nightly_report(day: str) -> None:
    """Fails on purpose: its handle ends FAILED with the remote error as data."""
    raise ConnectionError(f"the reporting database is down ({day})")
