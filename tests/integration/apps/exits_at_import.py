"""A task module whose import raises SystemExit (as ``venv.__main__`` does): importing it must never end
the process that tried."""

from __future__ import annotations

from uwsgi_tasks import task


@task
def never_defined() -> None: ...


raise SystemExit("exits_at_import: SystemExit at import")
