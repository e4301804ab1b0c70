"""Testing tasks: a real uWSGI for integration tests, an in-place mode, and codec checks.

- `UwsgiServer` starts a real uWSGI on 127.0.0.1 (your ini, or one it writes) and always stops and
  reaps it; `wait_until` polls with a timeout.
- `InPlace` runs every task in place through the real codec, raising failures at the call.
- `round_trip` and `check_call` check that values arrive as they were sent;
  `uwsgi_tasks.testing.strategies` has hypothesis strategies to drive them.
- The pytest plugin (installed with the package) gives the fixtures ``uwsgi_app`` and
  ``tasks_in_place``.
"""

from ._checks import check_call, first_difference, round_trip
from ._in_place import InPlace
from ._server import BINARY_ENV, UwsgiServer, find_uwsgi, free_port, wait_until

__all__ = [
    "BINARY_ENV",
    "check_call",
    "find_uwsgi",
    "first_difference",
    "free_port",
    "InPlace",
    "round_trip",
    "UwsgiServer",
    "wait_until",
]
