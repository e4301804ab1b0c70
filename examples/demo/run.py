"""The demo: a real uWSGI (spooler + 2 mules) runs tasks sent with the new API; we watch the handles.

python examples/demo/run.py        (or: nox -s demo)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from uwsgi_tasks.testing import UwsgiServer

HERE = Path(__file__).resolve().parent


def show(rows: list[dict[str, Any]], seen: dict[str, str]) -> None:
    for row in rows:
        state = json.dumps({k: v for k, v in row.items() if k not in ("id", "call", "function")})
        if seen.get(row["id"]) != state:
            seen[row["id"]] = state
            extra = row.get("result") or row.get("error") or ""
            print(f"  {row['function']:<32} {row['executor']:<8} {row['status']:<10} {extra}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="uwsgi-tasks-demo-") as base:
        outbox = Path(base) / "outbox"
        # The demo's own uwsgi.ini, on a free port, its spool directory under base.
        server = UwsgiServer.from_ini(HERE / "uwsgi.ini", base, env={"DEMO_OUTBOX": str(outbox)})
        with server:
            print(
                f"uWSGI started: master pid {server.pid}, http {server.url}, spooler {server.spool_dirs[0]}"
            )
            sent = server.get_json("/send")
            print("sent from a uWSGI worker:")
            for row in sent:
                print(f"  {row['call']:<34} -> {row['status']}, spool file {row['spool_file']}")
            print("watching the handles:")
            seen: dict[str, str] = {}
            ids = "&".join(f"id={row['id']}" for row in sent)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                rows = server.get_json(f"/status?{ids}")
                show(rows, seen)
                if all(row["status"] in ("succeeded", "failed", "cancelled") for row in rows):
                    break
                time.sleep(0.1)
            else:
                print("some tasks did not finish in 20 s; server log:\n" + server.log()[-2000:])
                return 1
            print(f"outbox: {sorted(p.name for p in outbox.iterdir())}")
        print("uWSGI stopped and reaped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
