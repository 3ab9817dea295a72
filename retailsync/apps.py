from django.apps import AppConfig


class RootConfig(AppConfig):
    """The composition root as an app only so that its commands (`seed_demo`) are found: it has
    no models. It may import every app; no app imports it."""

    name = "retailsync"
    label = "retailsync"
    verbose_name = "retailsync"
