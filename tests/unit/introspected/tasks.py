"""Tasks defined in a module of their own, for the introspection tests."""

from __future__ import annotations

from uwsgi_tasks import cron, signal, task, timer_lazy


@task
def send_email(to: str, subject: str = "Hi", *, urgent: bool = False) -> int:
    """Send an email; the number of recipients.

    >>> send_email.run("ada@example.com")
    1
    """
    return len(to.split(","))


@timer_lazy(seconds=60)
def every_minute(signum: int) -> None:
    """Runs every minute."""


@cron(minute=0, hour=3)
def nightly(signum: int) -> None:
    """Runs at three."""


@signal()
def on_signal(signum: int) -> None:
    """Runs when signalled."""
