"""Django's own tests of its tasks framework (``tests/tasks`` of the Django source distribution),
run against `uwsgi_tasks.contrib.django.SpoolerBackend`: see tests/integration/test_django_conformance.py."""
