"""0.7.3 compatibility: the decorators code imported from ``uwsgi_tasks.decorators``."""

from ._periodic import cron, cron_lazy, timer, timer_lazy
from ._task import task

__all__ = ["cron", "cron_lazy", "task", "timer", "timer_lazy"]
