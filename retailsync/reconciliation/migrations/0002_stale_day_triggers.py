"""The triggers that note which days of the rolled-up figures a write touched (rollup.py).
PostgreSQL only: the demo's SQLite reads the figures live."""

from django.db import migrations

from retailsync.core.statement_keys import postgresql_run
from retailsync.reconciliation.rollup import triggers_drop_sql, triggers_sql


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("orders", "0003_order_payment_state"),
        ("settlements", "0002_line_indexes"),
    ]

    operations = [
        migrations.RunPython(*postgresql_run(triggers_sql(), triggers_drop_sql())),
    ]
