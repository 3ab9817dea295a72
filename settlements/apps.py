from django.apps import AppConfig


class SettlementsConfig(AppConfig):
    name = "settlements"

    def ready(self) -> None:
        from retailsync.core.registry import register_order_panel

        from . import subscribers  # noqa: F401  (expected settlements from order and return events)
        from .panels import order_settlement_panel

        register_order_panel("settlement", order_settlement_panel)
        from .links import register

        register()
