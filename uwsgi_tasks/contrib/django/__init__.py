"""Django: `django_setup` for spoolers and mules, and `SpoolerBackend`, a backend for Django's tasks
framework (``django.tasks`` on Django >= 6, the ``django-tasks`` backport before).

Importing this module does not import Django; `SpoolerBackend` is loaded when first used, as in
``TASKS = {"default": {"BACKEND": "uwsgi_tasks.contrib.django.SpoolerBackend"}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._setup import django_setup

if TYPE_CHECKING:
    from ._backend import SpoolerBackend

__all__ = ["django_setup", "SpoolerBackend"]


def __getattr__(name: str) -> Any:
    if name == "SpoolerBackend":
        from ._backend import SpoolerBackend

        return SpoolerBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
