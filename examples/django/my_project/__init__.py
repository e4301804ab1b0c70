"""The example Django project: uwsgi_tasks tasks and Django's own tasks framework, in uWSGI's spooler.

uWSGI loads the app in the master, and Django imports this package with the settings, so importing
uwsgi_tasks here installs its spooler callable and mule hook before the fork, in every process
(0.7.3's recipe: ``set_uwsgi_callbacks()`` in the project's ``__init__.py``; the import alone does it).
"""

from uwsgi_tasks import set_uwsgi_callbacks

set_uwsgi_callbacks()
