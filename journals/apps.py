from django.apps import AppConfig


class JournalsConfig(AppConfig):
    name = "journals"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401  (each source event posted as it is dispatched)
        from .links import links_register
        from .panels import panels_register

        links_register()  # the exception queue names entries and journals' reasons in words
        panels_register()  # the order, return and settlement line pages link up to their lines
