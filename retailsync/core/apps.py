from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "retailsync.core"
    label = "core"
    verbose_name = "Integration core"

    def ready(self) -> None:
        from . import (
            roles,  # noqa: F401  (registers the post_migrate hook that creates groups)
            schema,  # noqa: F401  (OpenAPI auth extensions)
        )
        from .links import register

        register()
