"""Imported first by every spooler (``spooler-import = my_project.spooler``).

With the app loaded in the master, as here, Django is already set up and this changes nothing; with
``lazy-apps`` (or a spooler started before the app) it sets Django up so that tasks which use models
or settings work. A separate module, not ``my_project/__init__.py``: importing the settings imports
the package, so setting Django up there would run in the middle of Django's own setup.
"""

from uwsgi_tasks import django_setup

django_setup("my_project.settings")

import my_project.apps.index.tasks  # noqa: E402, F401 -- the tasks this spooler runs, after the setup
