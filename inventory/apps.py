from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401  (registers the order event subscribers)
        from .links import register

        register()
