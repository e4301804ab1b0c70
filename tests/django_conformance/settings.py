"""Django settings for the conformance runs, outside uWSGI and in every process of the uWSGI instance.

Django's tests override TASKS themselves; these TASKS are what a process that only runs tasks (the
spooler) resolves a task's backend alias against: both aliases Django's tests enqueue through.
"""

SECRET_KEY = "django-conformance-tests-only"
DEBUG = False
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
# Django's tests include TransactionTestCases: the test runner makes an in-memory SQLite database.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
TASKS = {
    "default": {"BACKEND": "uwsgi_tasks.contrib.django.SpoolerBackend"},
    "immediate": {"BACKEND": "uwsgi_tasks.contrib.django.SpoolerBackend", "QUEUES": []},
}
