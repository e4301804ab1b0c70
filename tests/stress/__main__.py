"""``python -m tests.stress``: the reliability figures of the README, at full size.

Starts real uWSGI instances under a temporary directory (needs the uwsgi binary of this Python's
environment, as the test suite does) and prints one JSON object of figures per scenario.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.stress import scenarios
from uwsgi_tasks.testing import UwsgiServer

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "integration" / "apps" / "app.py"


def server(base: Path, name: str, processes: int = 2) -> UwsgiServer:
    results = base / name / "results"
    results.mkdir(parents=True)
    env = {"UT_RESULTS": str(results)}
    options = [("env", f"UWSGITASKS_SECRET={scenarios.SECRET}")]
    return UwsgiServer(
        base / name, wsgi_file=APP, pythonpath=[ROOT], env=env, processes=processes, mules=0, options=options
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="uwsgi-tasks-stress-") as tmp:
        base = Path(tmp)
        for figures in run(base):
            print(json.dumps(figures), flush=True)
    return 0


def run(base: Path) -> list[scenarios.Figures]:
    out = []
    (base / "flags").mkdir()
    (base / "markers").mkdir()
    with server(base, "kill") as s:
        out.append(scenarios.kill_spooler_during_tasks(s, 20, base / "flags"))
    with server(base, "load", processes=4) as s:
        out.append(scenarios.concurrent_spools(s, 4, 2500))
    with server(base, "restart") as s:
        out.append(scenarios.restart_with_queued_tasks(s, 1000, base / "flags" / "restart"))
    with server(base, "reload") as s:
        out.append(scenarios.reload_with_queued_tasks(s, 1000, base / "flags" / "reload"))
    with server(base, "pickups") as s:
        out.append(scenarios.pickups_under_load(s, 10_000))
    with server(base, "hostile") as s:
        out.append(scenarios.hostile_spool_files(s, 10_000, base / "markers"))
    (base / "store").mkdir()
    out.append(scenarios.result_store_races(base / "store", 5.0))
    return out


if __name__ == "__main__":
    sys.exit(main())
