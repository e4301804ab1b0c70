"""The pytest plugin (loaded through the ``pytest11`` entry point when uwsgi_tasks is installed).

Fixtures:

``uwsgi_app``
    Your application in a real uWSGI on 127.0.0.1, one per test module, stopped and reaped after
    it. Configure it in your pytest configuration with either

    - ``uwsgi_tasks_ini = deploy/uwsgi.ini``: your own ini, which must listen on
      ``127.0.0.1:%(port)`` and keep its state (spool directories...) under ``%(base)``; list its
      spool directories relative to ``%(base)`` in ``uwsgi_tasks_spool_dirs`` (default ``spool``); or
    - ``uwsgi_tasks_module = mysite.wsgi:application``: a generated ini with 2 workers, an ordered
      spooler scanning every second, and 2 mules, with the root directory on ``sys.path``.

    ``uwsgi_tasks_env`` lines (``NAME=value``) are added to the server's environment.

``tasks_in_place``
    Every task sent during the test runs in place, through the real codec, retries without delay,
    and a failure raises at the call (`uwsgi_tasks.testing.InPlace`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from . import InPlace, UwsgiServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("uwsgi_tasks_ini", "uWSGI ini file the uwsgi_app fixture runs", type="string")
    parser.addini(
        "uwsgi_tasks_module", "WSGI callable (module:name) for a generated uWSGI config", type="string"
    )
    parser.addini(
        "uwsgi_tasks_spool_dirs", "spool directories of uwsgi_tasks_ini, under %(base)", type="linelist"
    )
    parser.addini("uwsgi_tasks_env", "NAME=value environment lines for the uwsgi_app server", type="linelist")


def _server(config: pytest.Config, base: Path) -> UwsgiServer:
    from . import UwsgiServer

    env = dict(line.split("=", 1) for line in config.getini("uwsgi_tasks_env"))
    ini = config.getini("uwsgi_tasks_ini")
    module = config.getini("uwsgi_tasks_module")
    if ini and module:
        raise pytest.UsageError("set uwsgi_tasks_ini or uwsgi_tasks_module, not both")
    if ini:
        spool_dirs = config.getini("uwsgi_tasks_spool_dirs") or ["spool"]
        return UwsgiServer.from_ini(config.rootpath / ini, base, spool_dirs=spool_dirs, env=env)
    if module:
        return UwsgiServer(base, module=module, pythonpath=[config.rootpath], spooler_frequency=1, env=env)
    raise pytest.UsageError(
        "the uwsgi_app fixture needs uwsgi_tasks_ini (your uwsgi.ini) or uwsgi_tasks_module "
        "(mysite.wsgi:application) in the pytest configuration"
    )


@pytest.fixture(scope="module")
def uwsgi_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UwsgiServer]:
    """Your app in a real uWSGI (see the module's docs); ``.url``, ``.get_json(path)``, ``.spool_dirs``."""
    server = _server(request.config, tmp_path_factory.mktemp("uwsgi_app"))
    with server:
        yield server


@pytest.fixture
def tasks_in_place() -> Iterator[InPlace]:
    """Every task sent during the test runs in place; ``.handles`` lists them."""
    from . import InPlace

    with InPlace() as in_place:
        yield in_place
