"""Runs mypy's stubtest on stubs/uwsgi.pyi inside uWSGI, where the module it describes exists.

stubtest imports the runtime module and compares it with the stub: missing names, wrong kinds,
``Final`` values and argument lists where the C functions expose them. The stub directory comes
from MYPYPATH.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

# Installs the spooler callable, the mule hook and the post-fork hook: attributes the stub declares,
# which exist on the module once something assigns them.
import uwsgi_tasks  # noqa: F401


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    from mypy import stubtest

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            code: object = stubtest.test_stubs(stubtest.parse_options(["uwsgi"]))
        except SystemExit as e:
            code = e.code
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"code": code, "output": output.getvalue()}).encode()]
