from django.apps import AppConfig


class JournalsConfig(AppConfig):
    name = "journals"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401  (each source event posted as it is dispatched)
