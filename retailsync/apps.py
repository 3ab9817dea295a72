from django.apps import AppConfig


class RootConfig(AppConfig):
    """The composition root as an app only so that its commands (`seed_demo`) are found: it has
    no models. It may import every app; no app imports it."""

    name = "retailsync"
    label = "retailsync"
    verbose_name = "retailsync"

    def ready(self) -> None:
        # The journals app has no AppConfig of its own yet: its exception kinds are worded here
        # until it registers them itself (a later registration of the same kind replaces this).
        from .core.registry import register_reasons

        register_reasons(
            "journals",
            {"unmapped_account": "a posting has no account mapped in the chart: map it, post"},
        )
