"""Types for annotating code that uses uwsgi_tasks: what ``task(...)`` returns, the options a task
takes, and the values its options accept.

    from uwsgi_tasks.typing import TaskOptionsDict

    def send_later(**options: Unpack[TaskOptionsDict]) -> None: ...
"""

from ._options import TaskOptionsDict
from ._retry import JitterName
from ._spec import MuleTarget, When
from ._task import TaskDecorator

__all__ = ["JitterName", "MuleTarget", "TaskDecorator", "TaskOptionsDict", "When"]
