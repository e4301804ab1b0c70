"""The benchmark runs (a smoke run of seconds, so it doesn't rot); its figures are not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_the_benchmark_runs_every_scenario(tmp_path: Path, uwsgi_binary: str) -> None:
    """bench/run.py --quick starts its uWSGI instances, runs every scenario and writes JSON and markdown."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = tmp_path.glob("*.json")
    data = json.loads(result.read_text())
    scenarios = data["scenarios"]
    assert [title.split(".")[0] for title in scenarios] == ["1", "2", "3", "4", "5", "5b", "6", "7", "8"]
    assert "ours .spool()" in scenarios["1. enqueue cost, small args, from a worker"]["contenders"]
    trips = next(s for title, s in scenarios.items() if title.startswith("5."))
    assert trips["baseline"] == "raw uwsgi.mule_msg"
    assert set(trips["contenders"]) == {
        "raw uwsgi.mule_msg",
        "ours .mule()",
        "ours .mule(), store_result=False",
    }
    assert data["memory"]["rss after large MiB"] > 0
    assert data["python_speed_µs"]["before"] > 0 and data["python_speed_µs"]["after"] > 0
    assert (tmp_path / result.name.replace(".json", ".md")).read_text().startswith("Machine: ")
