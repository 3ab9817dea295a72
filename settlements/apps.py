from django.apps import AppConfig


class SettlementsConfig(AppConfig):
    name = "settlements"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401  (expected settlements from order and return events)
