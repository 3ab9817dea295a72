"""The triggers that note which days of the rolled-up figures a write touched (rollup.py).
PostgreSQL only: the demo's SQLite reads the figures live."""

from typing import Any

from django.db import migrations

from retailsync.reconciliation.rollup import triggers_drop_sql, triggers_sql


def _run(statements: list[str]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(statement)  # no parameters: its % are PL/pgSQL format()'s

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("orders", "0003_order_payment_state"),
        ("settlements", "0002_line_indexes"),
    ]

    operations = [
        migrations.RunPython(_run(triggers_sql()), _run(triggers_drop_sql())),
    ]
