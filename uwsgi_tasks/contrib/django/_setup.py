"""`django_setup`: Django set up in a process that did not load the WSGI application."""

from __future__ import annotations

import importlib
import os


def django_setup(settings_module: str | None = None) -> None:
    """Set Django up in a process that did not load the WSGI application (a spooler, a mule).

    Call it from the module named by ``spooler-import`` (or imported by the mules) before the tasks
    are imported. Idempotent: once Django's apps are ready it does nothing. *settings_module*, if
    given, is put in ``DJANGO_SETTINGS_MODULE`` first.
    """
    apps = importlib.import_module("django.apps").apps
    if apps.ready:
        return
    if settings_module is not None:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    importlib.import_module("django").setup()
