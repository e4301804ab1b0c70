"""Settings of the example project: no database, emails written to files, tasks in uWSGI's spooler."""

import os
from pathlib import Path

import django

STATE = Path(os.environ.get("EXAMPLE_STATE", Path(__file__).resolve().parent.parent / "state"))

SECRET_KEY = "the-example-project-only"  # noqa: S105 -- an example, never deployed
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["my_project.apps.index"]
if django.VERSION < (6, 0):  # Django 4.2-5.2: the django-tasks backport provides django.tasks' API
    INSTALLED_APPS.append("django_tasks")
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "my_project.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Emails go to files under STATE/outbox, so the example runs offline.
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = STATE / "outbox"

# Django's tasks framework, run by uWSGI's spooler; the "reports" queue has a spooler of its own.
TASKS = {
    "default": {
        "BACKEND": "uwsgi_tasks.contrib.django.SpoolerBackend",
        "OPTIONS": {"SPOOLERS": {"reports": STATE / "reports"}},
    }
}
