"""A module no uWSGI process of the tests imports by itself: importing it leaves a line in
``imported.jsonl``, the proof that data (a spool file, a packet, a record) made a process import it."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from pathlib import Path

from uwsgi_tasks import task

if "UT_RESULTS" in os.environ:
    with open(Path(os.environ["UT_RESULTS"]) / "imported.jsonl", "a") as _f:
        _f.write(json.dumps({"module": __name__, "pid": os.getpid()}) + "\n")


@task
def trap_task() -> str:
    return "ran"


@dataclasses.dataclass
class Thing:
    x: int = 0


class Colour(enum.Enum):
    RED = 1


class TrapError(Exception):
    pass
