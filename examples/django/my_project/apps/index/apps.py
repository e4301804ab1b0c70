from django.apps import AppConfig


class IndexConfig(AppConfig):
    name = "my_project.apps.index"

    def ready(self) -> None:
        # Import the tasks at start-up, in uWSGI's master: every process then knows them (timers and
        # cron tasks must be declared there), not only the workers that served a view using them.
        from . import tasks  # noqa: F401
