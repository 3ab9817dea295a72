from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """The reconciliation dashboard, and the daily rollup its largest figures are read from."""

    name = "retailsync.reconciliation"
    label = "reconciliation"
    verbose_name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
