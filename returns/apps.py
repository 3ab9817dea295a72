from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"

    def ready(self) -> None:
        """Tell the core what runs a stored channel refund message again on replay."""
        from retailsync.core.registry import register_processor

        from .refund_messages import channel_refund_message_replay

        register_processor("refund", channel_refund_message_replay)
        from .links import register

        register()
