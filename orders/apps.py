from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        """Tell the core what it must know of orders and names nowhere itself: how each source's
        deliveries identify themselves, and what runs an order message again on replay."""
        from retailsync.core.registry import register_message_headers, register_processor

        from .adapters import SOURCES, deliveries_for
        from .services import order_message_replay

        for source in SOURCES:
            deliveries = deliveries_for(source)
            register_message_headers(
                source,
                message_id=deliveries.message_id_headers,
                topic=deliveries.topic_headers,
                kept=deliveries.kept_headers,
            )
        register_processor("order", order_message_replay)
        from .links import register

        register()
        register_processor("order_batch", order_message_replay)
