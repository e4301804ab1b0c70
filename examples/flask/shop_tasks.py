"""The Flask example's tasks: a confirmation email (spooler) and a cache warm-up (mule)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from uwsgi_tasks import RetryPolicy, task

OUTBOX = Path(os.environ.get("EXAMPLE_STATE", ".")) / "outbox"


@task(retry=RetryPolicy(max_attempts=3, delay=2, retry_on=(OSError,)))
def send_confirmation(order_id: int, email: str) -> str:
    """Write the email to the outbox; its file name."""
    OUTBOX.mkdir(parents=True, exist_ok=True)
    path = OUTBOX / f"order-{order_id}.json"
    path.write_text(json.dumps({"to": email, "subject": f"Order {order_id} confirmed"}))
    return path.name


@task
def warm_cache(key: str) -> int:
    """Quick in-memory work, for a mule."""
    return len(key)
