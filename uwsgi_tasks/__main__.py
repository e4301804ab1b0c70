"""``python -m uwsgi_tasks``: look at, cancel, requeue and purge the tasks of a spool directory."""

import sys

from ._cli import main

sys.exit(main())
