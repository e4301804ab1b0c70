"""Signal tasks declared at import, in the master (imported by app.py when UT_SIGNALS is set)."""

from __future__ import annotations

import datetime

from tests.integration.apps.itasks import record
from uwsgi_tasks import cron, signal, timer, timer_lazy


@timer(seconds=1)
def every_second(signum: int) -> None:
    record("every-second", signum=signum)


@timer(seconds=1, iterations=3)
def three_times(signum: int) -> None:
    record("three-times", signum=signum)


@timer_lazy(seconds=30)
def started_later(signum: int) -> None:
    record("started-later", signum=signum)


@signal(target="mule")
def to_a_mule(signum: int) -> None:
    record("to-a-mule")


@signal(target="mules")
def to_mules(signum: int) -> None:
    record("to-mules")


@signal(target="spooler")
def to_spooler(signum: int) -> None:
    record("to-spooler")


@signal(target="workers")
def to_workers(signum: int) -> None:
    record("to-workers")


_now = datetime.datetime.now()


@cron(minute=-1, hour=_now.hour, month=_now.month)
def cron_this_hour(signum: int) -> None:
    record("cron-this-hour", signum=signum)


@cron(minute=-1, hour=(_now.hour + 12) % 24)
def cron_other_hour(signum: int) -> None:
    record("cron-other-hour", signum=signum)


HANDLERS = {"to-a-mule": to_a_mule, "to-mules": to_mules, "to-spooler": to_spooler, "to-workers": to_workers}
